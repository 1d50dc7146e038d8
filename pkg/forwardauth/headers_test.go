package forwardauth_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/pkg/authz"
	"github.com/authbridge/authbridge/pkg/session"
)

// TestRouteHeadersThroughForwardAuth: a route's headers are in every allowed answer, from the session's
// claims and groups, empty when the claim is absent, so the gateway replaces the client's forged copies.
func TestRouteHeadersThroughForwardAuth(t *testing.T) {
	const tenant = "https://example.com/tenant"
	policy := authz.Policy{Routes: []authz.Route{{Path: "/", Headers: map[string]string{
		"X-Tenant": tenant, "X-Auth-Request-Groups": "groups", "X-Dept": "dept"}}}}
	env, h := front(t, enginetest.Options{Engine: authz.Options{Policy: policy}})
	tk, err := session.NewTicket()
	require.NoError(t, err)
	now := env.Clock.Now()
	require.NoError(t, env.Sessions.Save(context.Background(), tk, &session.Session{
		Subject: "auth0|carol", Email: "carol@example.com", Groups: []string{"ops", "dev"}, AccessToken: "carol-access-token",
		Claims: map[string][]string{tenant: {"acme"}, "dept": nil}, Expiry: now.Add(time.Hour), CreatedAt: now, Touched: now,
	}, time.Hour))
	spoof := http.Header{"Cookie": {"authbridge=" + tk.String()}, "X-Tenant": {"evil"}, "X-Auth-Request-Groups": {"admin"}, "X-Dept": {"finance"}}
	for name, req := range map[string]*http.Request{
		"traefik": traefik("GET", "/", spoof),
		"caddy":   caddy("GET", "/", spoof),
		"nginx":   nginx("GET", "/", spoof),
	} {
		t.Run(name, func(t *testing.T) {
			rec := serve(h, req)
			require.Equal(t, http.StatusOK, rec.Code)
			require.Equal(t, []string{"acme"}, rec.Header()["X-Tenant"])
			require.Equal(t, []string{"ops,dev"}, rec.Header()["X-Auth-Request-Groups"])
			require.Equal(t, []string{""}, rec.Header()["X-Dept"], "present and empty, so a proxy overwrites the client's copy")
			require.Equal(t, []string{"auth0|carol"}, rec.Header()["X-Auth-Request-User"])
		})
	}
}
