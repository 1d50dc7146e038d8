package authz_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/pkg/authz"
	"github.com/authbridge/authbridge/pkg/devidp"
)

const tenantClaim = "https://example.com/tenant"

// gina's ID and access tokens carry claims for every case of TestRouteHeaders.
var gina = devidp.User{Username: "gina", Password: "pw", Email: "gina@example.com", Groups: []string{"admin", "ops"},
	Claims: map[string]any{
		tenantClaim:          "acme",
		roles:                []string{"viewer", "editor"},
		"preferred_username": "gina.g",
		"crlf":               "a\r\nX-Evil: 1",
		"nul":                "a\x00b",
		"mixed":              []string{"ok", "bad\nX-Evil: 1", "fine"},
		"big":                strings.Repeat("x", 5<<10),
		"number":             7,
	}}

var headerPolicy = authz.Policy{Routes: []authz.Route{
	{Name: "public", Path: "/static", Public: true},
	{Name: "plain", Path: "/plain"},
	{Name: "app", Path: "/", Headers: map[string]string{
		"X-Tenant": tenantClaim, "X-Roles": roles, "X-Auth-Request-Groups": authz.GroupsSource,
		"X-Auth-Request-Preferred-Username": "preferred_username", "X-Missing": "dept",
		"X-Crlf": "crlf", "X-Nul": "nul", "X-Mixed": "mixed", "X-Big": "big", "X-Number": "number",
	}},
}}

// wantRouteHeaders is what route app sends gina's upstream: every configured header, empty where the
// claim is absent, not a string, holds a control character or passes the cap.
var wantRouteHeaders = map[string]string{
	"X-Tenant": "acme", "X-Roles": "viewer,editor", "X-Auth-Request-Groups": "admin,ops",
	"X-Auth-Request-Preferred-Username": "gina.g", "X-Missing": "",
	"X-Crlf": "", "X-Nul": "", "X-Mixed": "ok,fine", "X-Big": "", "X-Number": "",
}

func requireRouteHeaders(t *testing.T, up http.Header) {
	t.Helper()
	for k, want := range wantRouteHeaders {
		require.Equal(t, []string{want}, up[k], k)
	}
	require.Len(t, up, len(authz.IdentityHeaders())+len(wantRouteHeaders))
	for _, vs := range up {
		for _, v := range vs {
			require.NotContains(t, v, "\n")
			require.NotContains(t, v, "\x00")
		}
	}
}

func TestRouteHeaders(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{AutoLogin: "gina", Users: []devidp.User{gina}, Bearer: true,
		Engine: authz.Options{Policy: headerPolicy}})
	cookie, _ := env.Login(t, "/")

	t.Run("session", func(t *testing.T) {
		d, err := env.Engine.Decide(ctx, fetch("/app", cookie))
		require.NoError(t, err)
		require.Equal(t, authz.Allow, d.Outcome, d.Reason)
		require.Equal(t, "gina@example.com", d.Upstream.Get(authz.HeaderEmail))
		requireRouteHeaders(t, d.Upstream)
	})
	t.Run("bearer", func(t *testing.T) {
		tok, err := env.IDP.AccessToken(enginetest.ClientID, "gina", "openid")
		require.NoError(t, err)
		req := fetch("/app", "")
		req.Authorization = "Bearer " + tok
		d, err := env.Engine.Decide(ctx, req)
		require.NoError(t, err)
		require.Equal(t, authz.Allow, d.Outcome, d.Reason)
		requireRouteHeaders(t, d.Upstream)
	})
	t.Run("route without headers: the defaults only", func(t *testing.T) {
		d, err := env.Engine.Decide(ctx, fetch("/plain", cookie))
		require.NoError(t, err)
		require.Equal(t, authz.Allow, d.Outcome, d.Reason)
		require.ElementsMatch(t, authz.IdentityHeaders(), keys(d.Upstream))
	})
	t.Run("public route: no identity", func(t *testing.T) {
		d, err := env.Engine.Decide(ctx, fetch("/static/app.js", cookie))
		require.NoError(t, err)
		require.Equal(t, authz.Allow, d.Outcome, d.Reason)
		require.ElementsMatch(t, authz.IdentityHeaders(), keys(d.Upstream))
		require.Empty(t, d.Upstream.Get(authz.HeaderUser))
	})
}

func keys(h http.Header) []string {
	var out []string
	for k := range h {
		out = append(out, k)
	}
	return out
}

func TestRouteHeaderValueCap(t *testing.T) {
	many := make([]string, 0, 200)
	for range 200 {
		many = append(many, "group-with-a-long-name")
	}
	u := devidp.User{Username: "hal", Password: "pw", Email: "hal@example.com", Groups: many}
	env := enginetest.New(t, enginetest.Options{AutoLogin: "hal", Users: []devidp.User{u},
		Engine: authz.Options{Policy: authz.Policy{Routes: []authz.Route{{Path: "/", Headers: map[string]string{"X-Groups": "groups"}}}}}})
	cookie, _ := env.Login(t, "/")
	d, err := env.Engine.Decide(ctx, fetch("/", cookie))
	require.NoError(t, err)
	v := d.Upstream.Get("X-Groups")
	require.LessOrEqual(t, len(v), authz.MaxHeaderValue)
	require.Greater(t, len(v), authz.MaxHeaderValue-30)
	require.False(t, strings.HasSuffix(v, ","))
	for g := range strings.SplitSeq(v, ",") {
		require.Equal(t, "group-with-a-long-name", g, "values are kept whole")
	}
}

func TestRouteHeadersRefused(t *testing.T) {
	tests := []struct {
		name    string
		route   authz.Route
		wantErr string
	}{
		{"authorization", authz.Route{Path: "/", Headers: map[string]string{"Authorization": "sub"}}, `header "Authorization" cannot be set`},
		{"cookie", authz.Route{Path: "/", Headers: map[string]string{"cookie": "sub"}}, `header "cookie" cannot be set`},
		{"host", authz.Route{Path: "/", Headers: map[string]string{"Host": "sub"}}, `header "Host" cannot be set`},
		{"hop-by-hop", authz.Route{Path: "/", Headers: map[string]string{"Connection": "sub"}}, `header "Connection" cannot be set`},
		{"default identity header", authz.Route{Path: "/", Headers: map[string]string{"X-Auth-Request-Email": "sub"}}, "cannot be set"},
		{"not X- nor identity", authz.Route{Path: "/", Headers: map[string]string{"Tenant": "sub"}}, "identity headers (such as X-Auth-Request-Groups) or X- headers only"},
		{"underscore", authz.Route{Path: "/", Headers: map[string]string{"X_Tenant": "sub"}}, "letters, digits and '-'"},
		{"space", authz.Route{Path: "/", Headers: map[string]string{"X-Tenant ": "sub"}}, "letters, digits and '-'"},
		{"newline", authz.Route{Path: "/", Headers: map[string]string{"X-A\r\nX-B": "sub"}}, "letters, digits and '-'"},
		{"same in another case", authz.Route{Path: "/", Headers: map[string]string{"X-Tenant": "a", "x-tenant": "b"}}, "are one header"},
		{"no claim", authz.Route{Path: "/", Headers: map[string]string{"X-Tenant": ""}}, "empty claim name"},
		{"email claim", authz.Route{Path: "/", Headers: map[string]string{"X-Mail": "email"}}, "unverified"},
		{"public", authz.Route{Path: "/", Public: true, Headers: map[string]string{"X-Tenant": "t"}}, "public route sends no identity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.route.Name = "app"
			_, err := authz.CompilePolicy(authz.Policy{Routes: []authz.Route{tt.route}})
			require.ErrorIs(t, err, authz.ErrPolicy)
			require.ErrorContains(t, err, "policy.routes[0] (app): ")
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
	cp, err := authz.CompilePolicy(authz.Policy{Routes: []authz.Route{{Path: "/", Headers: map[string]string{
		"Remote-Groups": "groups", "X-Tenant": tenantClaim, "x-roles": roles}}}})
	require.NoError(t, err)
	require.Equal(t, []string{roles, tenantClaim}, cp.ClaimNames(), "header claims are kept in sessions; groups is no claim")
}
