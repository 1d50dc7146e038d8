package extauthz

import (
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// BenchmarkToRequest is the adapter alone, on the headers Envoy sends for a browser's fetch: it runs
// for every request, before any decision.
func BenchmarkToRequest(b *testing.B) {
	req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
		Http: &authv3.AttributeContext_HttpRequest{
			Method: "GET", Path: "/api/items?page=2", Host: "app.example.test", Scheme: "http", Protocol: "HTTP/1.1",
			Headers: map[string]string{
				":authority": "app.example.test", ":path": "/api/items?page=2", ":method": "GET", ":scheme": "http",
				"x-forwarded-proto": "https", "x-request-id": "6b1f0b3e-3c7e-4a55-9d7c-2c4c8f0f3d11",
				"user-agent": "Mozilla/5.0", "accept": "application/json", "sec-fetch-mode": "cors",
				"cookie": "theme=dark; authbridge=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "accept-language": "en",
				"x-forwarded-for": "198.51.100.7", "x-envoy-external-address": "198.51.100.7",
			},
		},
	}}}
	b.ReportAllocs()
	for b.Loop() {
		if in, err := toRequest(req); in == nil || !isNil(err) {
			b.Fatal(err)
		}
	}
}
