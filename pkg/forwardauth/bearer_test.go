package forwardauth_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/pkg/authz"
)

// apiClient is what an API client sends: JSON, no cookie, its own Authorization header.
func apiClient(authorization string) http.Header {
	return http.Header{"Accept": {"application/json"}, "Authorization": {authorization}}
}

// TestBearerThroughForwardAuth: an API client's bearer JWT through Traefik, Caddy and nginx
// auth_request: allowed with the same Authorization and the token's identity for the gateway to copy
// upstream; refused 401/403 with the RFC 6750 challenge, never a redirect, in every mode; a header given
// twice is 400 before the engine is asked; JWKS down is 503.
func TestBearerThroughForwardAuth(t *testing.T) {
	policy := authz.Policy{Routes: []authz.Route{
		{Name: "admin", Path: "/admin", Require: authz.Rule{Groups: []string{"admin"}}},
		{Path: "/static/", Public: true},
	}}
	env, h := front(t, enginetest.Options{Bearer: true, Engine: authz.Options{Policy: policy}})
	alice, err := env.IDP.AccessToken(enginetest.ClientID, "alice", "openid")
	require.NoError(t, err)
	bob, err := env.IDP.AccessToken(enginetest.ClientID, "bob", "openid")
	require.NoError(t, err)
	const (
		opaque = `Bearer realm="authbridge", error="invalid_token", error_description="The token is not a signed JWT"`
		scope  = `Bearer realm="authbridge", error="insufficient_scope"`
	)
	modes := map[string]func(string, string, http.Header) *http.Request{"traefik": traefik, "caddy": caddy, "nginx": nginx}
	tests := []struct {
		name, method, uri string
		browser           http.Header
		wantStatus        int
		wantChallenge     string
		wantUser          string
	}{
		{"valid token", "GET", "/api/items", apiClient("Bearer " + alice), 200, "", "auth0|alice"},
		{"valid token, POST", "POST", "/api/items", apiClient("Bearer " + bob), 200, "", "auth0|bob"},
		{"opaque token", "GET", "/api/items", apiClient("Bearer 8xLOxBtZp8"), 401, opaque, ""},
		{"navigation with an opaque token: 401, not a redirect", "GET", "/api/items", func() http.Header {
			h := nav("")
			h.Set("Authorization", "Bearer 8xLOxBtZp8")
			return h
		}(), 401, opaque, ""},
		{"admin without the group", "GET", "/admin/x", apiClient("Bearer " + bob), 403, scope, ""},
		{"admin in the group", "GET", "/admin/x", apiClient("Bearer " + alice), 200, "", "auth0|alice"},
		{"public route, invalid token", "GET", "/static/a.js", apiClient("Bearer 8xLOxBtZp8"), 200, "", ""},
		{"Authorization twice", "GET", "/api/items", http.Header{"Accept": {"application/json"},
			"Authorization": {"Bearer " + alice, "Bearer " + bob}}, 400, "", ""},
	}
	for mode, build := range modes {
		for _, tt := range tests {
			t.Run(mode+"/"+tt.name, func(t *testing.T) {
				rec := serve(h, build(tt.method, tt.uri, tt.browser))
				require.Equal(t, tt.wantStatus, rec.Code, rec.Body.String())
				require.Empty(t, rec.Header().Get("Location"))
				require.Empty(t, rec.Header().Values("Set-Cookie"))
				switch rec.Code {
				case http.StatusOK:
					want := tt.browser.Get("Authorization")
					if tt.wantUser == "" {
						want = ""
					}
					require.Equal(t, []string{want}, rec.Header().Values("Authorization"), "the client's header, unchanged")
					require.Equal(t, []string{tt.wantUser}, rec.Header().Values("X-Auth-Request-User"))
				case http.StatusBadRequest:
					require.Contains(t, rec.Body.String(), "Authorization appears more than once")
					require.NotContains(t, rec.Body.String(), alice)
				default:
					require.Equal(t, tt.wantChallenge, rec.Header().Get("WWW-Authenticate"))
					require.Empty(t, rec.Header().Values("Authorization"))
				}
			})
		}
	}

	// A verifier that has never reached the provider's keys cannot decide: 503, no challenge.
	env, h = front(t, enginetest.Options{Bearer: true})
	env.IDP.SetKeysDown(true)
	fresh, err := env.IDP.AccessToken(enginetest.ClientID, "alice", "openid")
	require.NoError(t, err)
	for mode, build := range modes {
		rec := serve(h, build("GET", "/api/items", apiClient("Bearer "+fresh)))
		require.Equal(t, http.StatusServiceUnavailable, rec.Code, mode)
		require.Empty(t, rec.Header().Get("WWW-Authenticate"), mode)
	}
}
