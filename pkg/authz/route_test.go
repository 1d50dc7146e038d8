package authz_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/pkg/authz"
)

// estate is the policy the matching tests run against; the comments name each route's index.
var estate = authz.Policy{
	Groups: []string{"staff"},
	Routes: []authz.Route{
		{Name: "admin", Host: "admin.example.com", Require: authz.Rule{Groups: []string{"admin"}}},                   // 0
		{Name: "static", Host: "app.example.com", Path: "/static/", Public: true},                                    // 1
		{Name: "api-read", Host: "app.example.com", Path: "/api", Methods: []string{"GET", "HEAD"}},                  // 2
		{Name: "api-write", Host: "app.example.com", Path: "/api", Require: authz.Rule{Groups: []string{"writers"}}}, // 3
		{Host: "app.example.com", Path: "/admin", Require: authz.Rule{Groups: []string{"admin"}}},                    // 4
		{Name: "tenants", Host: "*.tenants.example.com", Path: "/"},                                                  // 5
		{Name: "health", Path: "/healthz", Public: true},                                                             // 6
		{Name: "by-name", Public: true},                                                                              // 7: only by name
	},
}

func compile(t *testing.T, p authz.Policy) *authz.CompiledPolicy {
	t.Helper()
	cp, err := authz.CompilePolicy(p)
	require.NoError(t, err)
	return cp
}

func TestRouteMatching(t *testing.T) {
	cp := compile(t, estate)
	tests := []struct {
		name              string
		method, host, uri string
		route             string // "" for no name
		want              int    // route index, -1 for the default rule
		status            int    // 0, or 400 / 500
	}{
		{"exact host", "GET", "admin.example.com", "/x", "", 0, 0},
		{"host case", "GET", "ADMIN.Example.COM", "/x", "", 0, 0},
		{"host with port", "GET", "admin.example.com:8443", "/x", "", 0, 0},
		{"host with trailing dot", "GET", "admin.example.com.", "/x", "", 0, 0},
		{"host with trailing dot and port", "GET", "admin.example.com.:443", "/x", "", 0, 0},
		{"other host", "GET", "admin.example.org", "/x", "", -1, 0},
		{"host suffix is not the host", "GET", "evil-admin.example.com", "/x", "", -1, 0},
		{"wildcard subdomain", "GET", "acme.tenants.example.com", "/", "", 5, 0},
		{"wildcard deeper subdomain", "GET", "a.b.tenants.example.com", "/", "", 5, 0},
		{"wildcard case and port", "GET", "ACME.Tenants.example.com:8080", "/", "", 5, 0},
		{"wildcard is not the apex", "GET", "tenants.example.com", "/", "", -1, 0},
		{"wildcard needs a label", "GET", ".tenants.example.com", "/", "", -1, 0},
		{"path prefix", "GET", "app.example.com", "/static/app.js", "", 1, 0},
		{"path trailing slash on rule", "GET", "app.example.com", "/static", "", 1, 0},
		{"path segment boundary", "GET", "app.example.com", "/staticx/app.js", "", -1, 0},
		{"path exact", "GET", "app.example.com", "/api", "", 2, 0},
		{"path with slash", "GET", "app.example.com", "/api/", "", 2, 0},
		{"path below", "GET", "app.example.com", "/api/items?x=1", "", 2, 0},
		{"path apix is not api", "GET", "app.example.com", "/apix", "", -1, 0},
		{"path is case-sensitive", "GET", "app.example.com", "/ADMIN", "", -1, 0},
		{"path /admin", "GET", "app.example.com", "/admin/users", "", 4, 0},
		{"dot-segments out of public", "GET", "app.example.com", "/static/../admin/users", "", 4, 0},
		{"dot-segments into public", "GET", "app.example.com", "/admin/../static/a.js", "", 1, 0},
		{"encoded dot-segments", "GET", "app.example.com", "/static/%2e%2e/admin", "", 4, 0},
		{"encoded letters", "GET", "app.example.com", "/%61dmin", "", 4, 0},
		{"double slash", "GET", "app.example.com", "//admin", "", 4, 0},
		{"encoded slash refused", "GET", "app.example.com", "/static/..%2fadmin", "", -1, http.StatusBadRequest},
		{"backslash refused", "GET", "app.example.com", "/static/..\\admin", "", -1, http.StatusBadRequest},
		{"NUL refused", "GET", "app.example.com", "/static/a%00.js", "", -1, http.StatusBadRequest},
		{"tomcat dot-segment refused", "GET", "app.example.com", "/static/..;/admin", "", -1, http.StatusBadRequest},
		{"method listed", "HEAD", "app.example.com", "/api/items", "", 2, 0},
		{"method not listed falls through", "POST", "app.example.com", "/api/items", "", 3, 0},
		{"unknown method matches only routes without methods", "PROPFIND", "app.example.com", "/api/items", "", 3, 0},
		{"any host", "GET", "whatever.test", "/healthz", "", 6, 0},
		{"first match wins", "GET", "admin.example.com", "/healthz", "", 0, 0},
		{"name-only route never matches", "GET", "elsewhere.test", "/", "", -1, 0},
		{"default rule", "GET", "elsewhere.test", "/x", "", -1, 0},
		{"named", "GET", "elsewhere.test", "/x", "admin", 0, 0},
		{"named skips host, path and method", "DELETE", "app.example.com", "/static/a.js", "api-read", 2, 0},
		{"named name-only route", "GET", "app.example.com", "/", "by-name", 7, 0},
		{"unknown name", "GET", "admin.example.com", "/x", "nope", -1, http.StatusInternalServerError},
		{"two names", "GET", "admin.example.com", "/x", "admin,static", -1, http.StatusInternalServerError},
		{"names are case-sensitive", "GET", "admin.example.com", "/x", "Admin", -1, http.StatusInternalServerError},
		{"named with a bad path", "GET", "app.example.com", "/a%2fb", "admin", -1, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := cp.Explain(&authz.Request{Method: tt.method, Host: tt.host, URI: tt.uri, Route: tt.route}, nil)
			require.Equal(t, tt.status, x.Status, x.Label)
			require.Equal(t, tt.want, x.Route, x.Label)
			require.Equal(t, tt.route != "", x.ByName)
		})
	}
}

func TestRouteMatchingWithoutRoutes(t *testing.T) {
	cp := compile(t, authz.Policy{EmailDomains: []string{"example.com"}})
	tests := []struct {
		name   string
		req    authz.Request
		status int
	}{
		{"any request is the default rule", authz.Request{Method: "GET", Host: "a.test", URI: "/x"}, 0},
		{"paths are not inspected", authz.Request{Method: "GET", Host: "a.test", URI: "/a%2fb"}, 0},
		{"a name still needs a route", authz.Request{Method: "GET", Host: "a.test", URI: "/x", Route: "admin"}, http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := cp.Explain(&tt.req, nil)
			require.Equal(t, tt.status, x.Status)
			require.Equal(t, -1, x.Route)
		})
	}
	require.False(t, cp.Routes())
}

func TestCompilePolicyRefuses(t *testing.T) {
	tests := []struct {
		name    string
		routes  []authz.Route
		wantMsg string
	}{
		{"no matcher and no name", []authz.Route{{Require: authz.Rule{Groups: []string{"a"}}}}, "policy.routes[0]: needs a host, path, methods or a name"},
		{"public with requirements", []authz.Route{{Name: "x", Path: "/", Public: true, Require: authz.Rule{Groups: []string{"a"}}}}, "policy.routes[0] (x): a public route cannot have requirements"},
		{"bad host", []authz.Route{{Host: "a b.example.com"}}, `host "a b.example.com"`},
		{"host with port", []authz.Route{{Host: "example.com:443"}}, `host "example.com:443"`},
		{"wildcard inside", []authz.Route{{Host: "a.*.example.com"}}, "host"},
		{"bare wildcard", []authz.Route{{Host: "*"}}, "host"},
		{"relative path", []authz.Route{{Path: "api"}}, `path "api"`},
		{"unnormalised path", []authz.Route{{Path: "/a/../b"}}, "path"},
		{"encoded path", []authz.Route{{Path: "/a%20b"}}, "path"},
		{"unknown method", []authz.Route{{Path: "/", Methods: []string{"FETCH"}}}, `method "FETCH"`},
		{"lower-case method", []authz.Route{{Path: "/", Methods: []string{"get"}}}, `method "get"`},
		{"claim without values", []authz.Route{{Path: "/", Require: authz.Rule{Claims: map[string][]string{"role": nil}}}}, `claim "role"`},
		{"duplicate names", []authz.Route{{Name: "a", Path: "/a"}, {Name: "a", Path: "/b"}}, "policy.routes[1] (a): name also used by policy.routes[0]"},
		{"shadowed", []authz.Route{{Path: "/", Public: true}, {Host: "admin.example.com"}}, "policy.routes[1] is unreachable: policy.routes[0] before it matches every request it would"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := authz.CompilePolicy(authz.Policy{Routes: tt.routes})
			require.ErrorIs(t, err, authz.ErrPolicy)
			require.Contains(t, err.Error(), tt.wantMsg)
		})
	}
}

func TestShadowed(t *testing.T) {
	r := func(name, host, path string, methods ...string) authz.Route {
		return authz.Route{Name: name, Host: host, Path: path, Methods: methods}
	}
	tests := []struct {
		name   string
		routes []authz.Route
		want   []authz.Shadow
	}{
		{"same route twice", []authz.Route{r("a", "x.test", "/p"), r("b", "x.test", "/p")}, []authz.Shadow{{Route: 1, By: 0, RouteName: "b", ByName: "a", Named: true}}},
		{"any host covers a host", []authz.Route{r("a", "", "/p"), r("", "x.test", "/p/q")}, []authz.Shadow{{Route: 1, By: 0, ByName: "a"}}},
		{"wildcard covers subdomain", []authz.Route{r("a", "*.x.test", "/"), r("", "a.x.test", "/p")}, []authz.Shadow{{Route: 1, By: 0, ByName: "a"}}},
		{"wildcard covers narrower wildcard", []authz.Route{r("a", "*.x.test", ""), r("", "*.a.x.test", "/p")}, []authz.Shadow{{Route: 1, By: 0, ByName: "a"}}},
		{"wildcard does not cover apex", []authz.Route{r("a", "*.x.test", "/"), r("", "x.test", "/p")}, nil},
		{"host does not cover any host", []authz.Route{r("a", "x.test", "/"), r("", "", "/p")}, nil},
		{"host does not cover wildcard", []authz.Route{r("a", "a.x.test", "/"), r("", "*.x.test", "/p")}, nil},
		{"path prefix covers", []authz.Route{r("a", "", "/api"), r("", "", "/api/v2")}, []authz.Shadow{{Route: 1, By: 0, ByName: "a"}}},
		{"path segment boundary", []authz.Route{r("a", "", "/api"), r("", "", "/apix")}, nil},
		{"narrower path first is fine", []authz.Route{r("a", "", "/api/v2"), r("", "", "/api")}, nil},
		{"methods superset covers", []authz.Route{r("a", "", "/", "GET", "POST"), r("", "", "/x", "GET")}, []authz.Shadow{{Route: 1, By: 0, ByName: "a"}}},
		{"methods subset does not cover", []authz.Route{r("a", "", "/", "GET"), r("", "", "/x", "GET", "POST")}, nil},
		{"methods do not cover any method", []authz.Route{r("a", "", "/", "GET"), r("", "", "/x")}, nil},
		{"name-only routes neither shadow nor are shadowed", []authz.Route{{Name: "n"}, r("", "", "/x"), r("m", "", "/"), {Name: "o"}}, nil},
		{"first shadowing route is named", []authz.Route{r("a", "", "/"), r("b", "", "/x"), r("", "", "/x/y")}, []authz.Shadow{
			{Route: 1, By: 0, RouteName: "b", ByName: "a", Named: true}, {Route: 2, By: 0, ByName: "a"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cp, err := authz.CompilePolicy(authz.Policy{Routes: tt.routes})
			if slices.ContainsFunc(tt.want, func(s authz.Shadow) bool { return !s.Named }) {
				// An unnamed shadowed route is an error; a named one, which a gateway can still select, is not.
				require.ErrorIs(t, err, authz.ErrPolicy)
				for _, s := range tt.want {
					if s.Named {
						require.NotContains(t, err.Error(), s.String())
					} else {
						require.Contains(t, err.Error(), s.String())
					}
				}
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, cp.Shadowed())
		})
	}
}
