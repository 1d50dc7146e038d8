package authz_test

import (
	"testing"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/pkg/authz"
)

// BenchmarkDecideAllowed is the engine's hot path: a valid session in the memory store.
func BenchmarkDecideAllowed(b *testing.B) {
	env := enginetest.New(b, enginetest.Options{})
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
