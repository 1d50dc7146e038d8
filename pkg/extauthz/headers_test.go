package extauthz_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/pkg/authz"
	"github.com/authbridge/authbridge/pkg/session"
)

// TestRouteHeadersThroughCheck: a route's headers are set with OVERWRITE from the session's claims and
// groups, replacing the client's copies; one whose claim is absent is removed; and a client copy that
// toRequest would remove as an identity header is not removed in the spelling that is set (Envoy removes
// after it sets), only in others.
func TestRouteHeadersThroughCheck(t *testing.T) {
	const tenant = "https://example.com/tenant"
	policy := authz.Policy{Routes: []authz.Route{{Path: "/", Headers: map[string]string{
		"X-Tenant": tenant, "X-Auth-Request-Groups": "groups", "X-Dept": "dept"}}}}
	env := enginetest.New(t, enginetest.Options{Engine: authz.Options{Policy: policy}})
	tk, err := session.NewTicket()
	require.NoError(t, err)
	now := env.Clock.Now()
	require.NoError(t, env.Sessions.Save(context.Background(), tk, &session.Session{
		Subject: "auth0|carol", Email: "carol@example.com", Groups: []string{"ops", "dev"}, AccessToken: "carol-access-token",
		Claims: map[string][]string{tenant: {"acme"}}, Expiry: now.Add(time.Hour), CreatedAt: now, Touched: now,
	}, time.Hour))
	req := envoyRequest("GET", "/api", map[string]string{"cookie": "authbridge=" + tk.String(),
		"x-tenant": "evil", "X-Auth-Request-Groups": "admin", "x-dept": "finance"})
	raw("x_auth_request_groups", "admin", "X-TENANT", "evil")(req)
	resp, err := client(t, env).Check(context.Background(), req)
	require.NoError(t, err)
	ok := resp.GetOkResponse()
	require.NotNil(t, ok, resp.String())
	hs := headerMap(ok.GetHeaders())
	require.Equal(t, []string{"acme"}, hs["x-tenant"])
	require.Equal(t, []string{"ops,dev"}, hs["x-auth-request-groups"])
	require.Equal(t, []string{"auth0|carol"}, hs["x-auth-request-user"])
	require.NotContains(t, hs, "x-dept")
	for _, o := range ok.GetHeaders() {
		require.Equal(t, corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD, o.GetAppendAction(), o.GetHeader().GetKey())
	}
	require.Contains(t, ok.GetHeadersToRemove(), "x-dept", "no value: the client's copy is removed")
	require.Contains(t, ok.GetHeadersToRemove(), "x_auth_request_groups", "other spellings are still removed")
	for _, k := range ok.GetHeadersToRemove() {
		require.False(t, strings.EqualFold(k, "x-auth-request-groups") || strings.EqualFold(k, "x-tenant"), k)
	}
}
