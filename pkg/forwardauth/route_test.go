package forwardauth_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/pkg/authz"
)

// routePolicy: an admin route a gateway selects by name, public assets, and the default rule for the rest.
var routePolicy = authz.Policy{Routes: []authz.Route{
	{Name: "admin", Require: authz.Rule{Groups: []string{"admin"}}},
	{Name: "static", Path: "/static", Public: true},
}}

// TestGatewayNamesTheRoute: the route comes from the query of the gateway's request to authbridge
// (/auth?route=admin, /oauth2/auth?route=admin), never from the client's URI; an unknown name is 500,
// which nginx, too, gets as 500 (its auth_request then answers 500), never a 401 that would loop
// through the login.
func TestGatewayNamesTheRoute(t *testing.T) {
	with := func(r *http.Request, query string) *http.Request { r.URL.RawQuery = query; return r }
	for _, user := range []string{"alice", "bob"} {
		t.Run(user, func(t *testing.T) {
			env, h := front(t, enginetest.Options{AutoLogin: user, Engine: authz.Options{Policy: routePolicy}})
			cookie, _ := env.Login(t, "/")
			admin := map[string]int{"alice": 200, "bob": 403}[user]
			tests := []struct {
				name   string
				req    *http.Request
				status int
			}{
				{"traefik names admin", with(traefik("GET", "/anything", xhr(cookie)), "route=admin"), admin},
				{"caddy names admin", with(caddy("POST", "/anything", xhr(cookie)), "route=admin"), admin},
				{"nginx names admin", with(nginx("GET", "/anything", xhr(cookie)), "route=admin"), admin},
				{"no name: default rule", traefik("GET", "/anything", xhr(cookie)), 200},
				{"the client's query names nothing", traefik("GET", "/anything?route=admin", xhr(cookie)), 200},
				{"unknown name", with(traefik("GET", "/", xhr(cookie)), "route=nope"), 500},
				{"unknown name, nginx", with(nginx("GET", "/", nav(cookie)), "route=nope"), 500},
				{"two names", with(traefik("GET", "/", xhr(cookie)), "route=admin&route=static"), 400},
				{"empty name: default rule", with(caddy("GET", "/anything", xhr(cookie)), "route="), 200},
				{"bare route: default rule", with(caddy("GET", "/anything", xhr(cookie)), "route"), 200},
				// Caddy's forward_auth passes the client's query on when its uri has none of its own: the
				// client must not pick a route (nor smuggle other parameters) that way.
				{"caddy passes the client's query naming a public route", with(caddy("GET", "/private?route=static", xhr("")), "route=static"), 400},
				{"caddy passes the client's query, with a session", with(caddy("GET", "/private?route=static", xhr(cookie)), "route=static"), 400},
				{"caddy passes the client's other query", with(caddy("GET", "/private?x=1", xhr(cookie)), "x=1"), 400},
				{"a parameter besides route", with(traefik("GET", "/", xhr(cookie)), "route=admin&x=1"), 400},
				{"malformed query", with(traefik("GET", "/", xhr(cookie)), "route=%zz"), 400},
				{"the client's query equals the gateway's", with(traefik("GET", "/x?route=admin", xhr(cookie)), "route=admin"), 400},
				{"named public route", with(traefik("GET", "/anything", xhr("")), "route=static"), 200},
				{"path refused by the front", traefik("GET", "/static/..%2Fadmin", xhr(cookie)), 400},
				{"path refused by the policy", traefik("GET", "/static/%0a", xhr(cookie)), 400},
				{"path parameters refused by the policy", traefik("GET", "/static;x/app.js", xhr("")), 400},
				{"encoded path parameters refused by the policy", traefik("GET", "/static%3bx/app.js", xhr("")), 400},
				{"double encoding refused by the policy", traefik("GET", "/%2573tatic/app.js", xhr("")), 400},
				{"path refused by the policy, nginx: 400 (nginx answers 500), not a login loop", nginx("GET", "/static/%0a", nav(cookie)), 400},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					rec := serve(h, tt.req)
					require.Equal(t, tt.status, rec.Code, rec.Body.String())
					if tt.status == http.StatusOK {
						require.Contains(t, rec.Header(), "Authorization")
					} else {
						require.NotContains(t, rec.Header(), "Authorization")
					}
				})
			}
		})
	}
}

// TestPublicRouteThroughForwardAuth: a public path is 200 without a session, for navigations and scripts,
// with every identity header present and empty, so that the gateway overwrites the client's copies.
func TestPublicRouteThroughForwardAuth(t *testing.T) {
	env, h := front(t, enginetest.Options{Engine: authz.Options{Policy: routePolicy}})
	cookie, _ := env.Login(t, "/")
	forged := func(hd http.Header) http.Header {
		hd.Set("Authorization", "Bearer forged")
		hd.Set("X-Auth-Request-User", "admin")
		return hd
	}
	for name, r := range map[string]*http.Request{
		"traefik navigation": traefik("GET", "/static/app.js", forged(nav(""))),
		"traefik script":     traefik("GET", "/static/app.js", forged(xhr(""))),
		"nginx":              nginx("GET", "/static/app.js", forged(nav(""))),
		"invalid cookie":     caddy("GET", "/static/app.js", forged(xhr("authbridge=garbage"))),
		"valid session":      traefik("GET", "/static/app.js", forged(nav(cookie))),
		"encoded letters":    traefik("GET", "/%73tatic/app.js", forged(nav(""))),
	} {
		t.Run(name, func(t *testing.T) {
			rec := serve(h, r)
			require.Equal(t, http.StatusOK, rec.Code)
			for _, k := range authz.IdentityHeaders() {
				require.Equal(t, []string{""}, rec.Header().Values(k), k)
			}
			require.Empty(t, rec.Header().Values("Set-Cookie"))
			require.Empty(t, rec.Header().Get("Location"))
		})
	}
	rec := serve(h, traefik("GET", "/staticx", nav("")))
	require.Equal(t, http.StatusFound, rec.Code, "beside the public path a browser logs in")
}
