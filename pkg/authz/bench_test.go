package authz_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/pkg/authz"
)

// BenchmarkDecideAllowed is the engine's hot path: a valid session in the memory store.
func BenchmarkDecideAllowed(b *testing.B) {
	decideAllowed(b, enginetest.New(b, enginetest.Options{}))
}

// decideAllowed logs in on env and decides an API call with that session, b.N times.
func decideAllowed(b *testing.B, env *enginetest.Env) {
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

// BenchmarkDecideBearer is an API client's hot path: a bearer JWT the verifier has already verified (a
// cache hit: a SHA-256 of the token and a map lookup), held to the default rule, no session read.
func BenchmarkDecideBearer(b *testing.B) {
	env := enginetest.New(b, enginetest.Options{Bearer: true})
	tok, err := env.IDP.AccessToken(enginetest.ClientID, "alice", "openid")
	if err != nil {
		b.Fatal(err)
	}
	req := &authz.Request{Front: authz.FrontForwardAuth, Method: "GET", Scheme: "https", Host: enginetest.AppHost,
		URI: "/api/items", Accept: "application/json", Authorization: "Bearer " + tok}
	if d, err := env.Engine.Decide(ctx, req); err != nil || d.Outcome != authz.Allow {
		b.Fatal(err, d)
	}
	b.ReportAllocs()
	for b.Loop() {
		d, err := env.Engine.Decide(ctx, req)
		if err != nil || d.Outcome != authz.Allow {
			b.Fatal(err, d)
		}
	}
}

// BenchmarkDecideAllowedMetrics is BenchmarkDecideAllowed with and without the metrics (the engine's:
// one classification, a counter and a histogram; the store's: a histogram per call; the cache's: a
// counter per lookup), with and without the session cache, to show what they cost per decision.
func BenchmarkDecideAllowedMetrics(b *testing.B) {
	for _, cache := range []time.Duration{0, time.Minute} {
		for _, on := range []bool{false, true} {
			b.Run(fmt.Sprintf("cache=%t/metrics=%t", cache > 0, on), func(b *testing.B) {
				o := enginetest.Options{CacheTTL: cache}
				reg := prometheus.NewRegistry()
				if on {
					o.Engine.Metrics = authz.NewMetrics(reg)
				}
				env := enginetest.New(b, o)
				if on {
					env.Sessions.EnableMetrics(reg)
				}
				decideAllowed(b, env)
			})
		}
	}
}
