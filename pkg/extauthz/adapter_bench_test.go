package extauthz

import (
	"net/http"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/authbridge/authbridge/pkg/authz"
)

// BenchmarkToRequest is the adapter alone, on the headers Envoy sends for a browser's fetch: it runs
// for every request, before any decision.
func BenchmarkToRequest(b *testing.B) {
	req := benchRequest()
	b.ReportAllocs()
	for b.Loop() {
		if in, err := toRequest(req); in == nil || err != nil {
			b.Fatal(err)
		}
	}
}

// benchRequest is what Envoy sends for a browser's fetch.
func benchRequest() *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
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
}

// BenchmarkFrontAllowed is the front's own share of an allowed Check: the adapter and the renderer,
// around a decision the engine would have made.
func BenchmarkFrontAllowed(b *testing.B) {
	s := New(nil, nil)
	req := benchRequest()
	delete(req.Attributes.Request.Http.Headers, "cookie") // the cookie rewrite asks the engine
	req.Attributes.Request.Http.Headers["x-auth-request-user"] = "mallory"
	d := &authz.Decision{Outcome: authz.Allow, Upstream: http.Header{
		"Authorization": {"Bearer x"}, "X-Auth-Request-User": {"alice"}, "X-Auth-Request-Email": {"a@example.test"}}}
	b.ReportAllocs()
	for b.Loop() {
		in, err := toRequest(req)
		if err != nil {
			b.Fatal(err)
		}
		if resp := s.allowed(in, d); len(resp.GetOkResponse().GetHeaders()) != 3 {
			b.Fatal(resp)
		}
	}
}
