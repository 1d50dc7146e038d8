package extauthz_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/pkg/authz"
	"github.com/authbridge/authbridge/pkg/extauthz"
)

var routePolicy = authz.Policy{Routes: []authz.Route{
	{Name: "admin", Require: authz.Rule{Groups: []string{"admin"}}},
	{Name: "static", Path: "/static", Public: true},
}}

// TestContextExtensionNamesTheRoute: Envoy's per-route check_settings.context_extensions authbridge_route
// selects the policy route; an unknown name is an in-band 500, never an allow.
func TestContextExtensionNamesTheRoute(t *testing.T) {
	for _, user := range []string{"alice", "bob"} {
		t.Run(user, func(t *testing.T) {
			env := enginetest.New(t, enginetest.Options{AutoLogin: user, Engine: authz.Options{Policy: routePolicy}})
			c := client(t, env)
			cookie := loginThroughCheck(t, env, c)
			admin := map[string]int{"alice": 200, "bob": 403}[user]
			tests := []struct {
				name, path, route string
				status            int
				code              codes.Code
			}{
				{"named admin", "/anything", "admin", admin, map[int]codes.Code{200: codes.OK, 403: codes.PermissionDenied}[admin]},
				{"no name: default rule", "/anything", "", 200, codes.OK},
				{"unknown name", "/anything", "nope", 500, codes.PermissionDenied},
				{"named public", "/anything", "static", 200, codes.OK},
				{"path refused by the front", "/static/..%2fadmin", "", 400, codes.InvalidArgument},
				{"path refused by the policy", "/static/%0a", "", 400, codes.PermissionDenied},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					req := envoyRequest("GET", tt.path, map[string]string{"accept": "application/json", "cookie": cookie})
					if tt.route != "" {
						req.Attributes.ContextExtensions[extauthz.ContextExtensionRoute] = tt.route
					}
					resp, err := c.Check(context.Background(), req)
					require.NoError(t, err, "never a gRPC error")
					require.Equal(t, int32(tt.code), resp.GetStatus().GetCode())
					if tt.status == http.StatusOK {
						require.NotNil(t, resp.GetOkResponse())
						return
					}
					require.EqualValues(t, tt.status, resp.GetDeniedResponse().GetStatus().GetCode())
				})
			}
		})
	}
}

// TestPublicRouteThroughCheck: a public path is allowed without a session, and the upstream gets no
// identity: authbridge's headers are removed (not sent empty), as are the client's copies.
func TestPublicRouteThroughCheck(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{Engine: authz.Options{Policy: routePolicy}})
	c := client(t, env)
	for name, hs := range map[string]map[string]string{
		"navigation": {"accept": "text/html", "sec-fetch-mode": "navigate"},
		"script":     {"accept": "application/json"},
		"forged":     {"authorization": "Bearer forged", "x-auth-request-user": "admin", "x_auth_request_email": "a@example.com", "cookie": "authbridge=garbage; theme=dark"},
	} {
		t.Run(name, func(t *testing.T) {
			resp, err := c.Check(context.Background(), envoyRequest("GET", "/static/app.js", hs))
			require.NoError(t, err)
			ok := resp.GetOkResponse()
			require.NotNil(t, ok, resp.String())
			for _, h := range []string{"authorization", "x-auth-request-user", "x-auth-request-email"} {
				require.Contains(t, ok.GetHeadersToRemove(), h)
			}
			for _, h := range ok.GetHeaders() {
				require.NotContains(t, []string{"authorization", "x-auth-request-user", "x-auth-request-email"}, h.GetHeader().GetKey())
			}
			if name == "forged" {
				require.Contains(t, ok.GetHeadersToRemove(), "x_auth_request_email")
				require.Equal(t, map[string][]string{"cookie": {"theme=dark"}}, headerMap(ok.GetHeaders()))
			}
		})
	}
}
