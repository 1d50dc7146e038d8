package extauthz_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/pkg/extauthz"
)

// BenchmarkCheckAllowed is the gRPC front's hot path without the transport: an Envoy-shaped request with
// a valid session in the memory store.
func BenchmarkCheckAllowed(b *testing.B) {
	for _, bc := range []struct {
		name string
		ttl  time.Duration
	}{{"store", 0}, {"cache", time.Minute}} {
		b.Run(bc.name, func(b *testing.B) {
			env := enginetest.New(b, enginetest.Options{CacheTTL: bc.ttl})
			cookie, _ := env.Login(b, "/")
			srv := extauthz.New(env.Engine, nil)
			req := envoyRequest("GET", "/api/items?page=2", map[string]string{"cookie": "theme=dark; " + cookie, "accept": "application/json"})
			b.ReportAllocs()
			for b.Loop() {
				resp, err := srv.Check(context.Background(), req)
				if err != nil || resp.GetStatus().GetCode() != int32(codes.OK) {
					b.Fatal(err, resp)
				}
			}
		})
	}
}
