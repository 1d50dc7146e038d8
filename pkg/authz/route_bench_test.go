package authz_test

import (
	"testing"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/pkg/authz"
	"github.com/authbridge/authbridge/pkg/devidp"
)

// BenchmarkDecideAllowedWithRoutes is BenchmarkDecideAllowed behind a policy of five routes, the request
// matching the last one, which checks a claim: the cost of matching and of the checks.
func BenchmarkDecideAllowedWithRoutes(b *testing.B) {
	p := authz.Policy{EmailDomains: []string{"example.com"}, Routes: []authz.Route{
		{Name: "admin", Host: "admin.example.com", Require: authz.Rule{Groups: []string{"admin"}}},
		{Name: "static", Host: enginetest.AppHost, Path: "/static/", Public: true},
		{Name: "health", Path: "/healthz", Methods: []string{"GET", "HEAD"}, Public: true},
		{Name: "tenants", Host: "*.tenants.example.com", Path: "/"},
		{Name: "api", Host: enginetest.AppHost, Path: "/api", Methods: []string{"GET"}, Require: authz.Rule{
			Groups: []string{"staff"}, Claims: map[string][]string{roles: {"editor", "owner"}}}},
	}}
	env := enginetest.New(b, enginetest.Options{AutoLogin: "carol", Users: []devidp.User{{Username: "carol", Password: "pw",
		Email: "carol@example.com", Groups: []string{"staff"}, Claims: map[string]any{roles: []string{"viewer", "editor"}}}},
		Engine: authz.Options{Policy: p}})
	cookie, _ := env.Login(b, "/")
	req := &authz.Request{Front: authz.FrontForwardAuth, Method: "GET", Scheme: "https", Host: enginetest.AppHost,
		URI: "/api/items", Accept: "application/json", Cookie: "theme=dark; " + cookie}
	b.ReportAllocs()
	for b.Loop() {
		d, err := env.Engine.Decide(ctx, req)
		if err != nil || d.Outcome != authz.Allow {
			b.Fatal(err, d)
		}
	}
}
