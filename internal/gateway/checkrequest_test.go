package gateway

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
)

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// incoming builds a request as the gateway's server hands it over: raw target, client and local address.
func incoming(method, target, remote string, header http.Header) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	r.Host = "app.example.test:8080"
	r.RequestURI = target
	r.RemoteAddr = remote
	r.Header = header
	local := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 2), Port: 8080}
	return r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, local))
}

func TestCheckRequest(t *testing.T) {
	start := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		req       func() *http.Request
		newID     bool   // x-request-id is generated, so only its format is checked
		wantProto string // protojson of the whole CheckRequest
	}{
		{
			name: "browser navigation from an internal client keeps its request id",
			req: func() *http.Request {
				return incoming("GET", "/orders?page=2&q=a%20b", "10.0.0.1:50000", http.Header{
					"Accept":          {"text/html,*/*;q=0.8"},
					"Cookie":          {"authbridge=abc; theme=dark"},
					"Sec-Fetch-Mode":  {"navigate"},
					"X-Request-Id":    {"client-chosen"},
					"Connection":      {"keep-alive, X-Hop"},
					"X-Hop":           {"dropped: named by Connection"},
					"Accept-Encoding": {"gzip", "br"},
				})
			},
			wantProto: `{"attributes":{
				"source":{"address":{"socketAddress":{"address":"10.0.0.1","portValue":50000}}},
				"destination":{"address":{"socketAddress":{"address":"10.0.0.2","portValue":8080}}},
				"request":{"time":"2026-11-27T12:00:00Z","http":{
					"id":"42","method":"GET","path":"/orders?page=2&q=a%20b","host":"app.example.test:8080",
					"scheme":"http","protocol":"HTTP/1.1",
					"headers":{
						":authority":"app.example.test:8080",":path":"/orders?page=2&q=a%20b",":method":"GET",":scheme":"http",
						"accept":"text/html,*/*;q=0.8","accept-encoding":"gzip,br","cookie":"authbridge=abc; theme=dark",
						"sec-fetch-mode":"navigate","x-request-id":"client-chosen","x-forwarded-proto":"http",
						"x-forwarded-for":"10.0.0.1","x-envoy-internal":"true"}}},
				"metadataContext":{},"routeMetadataContext":{}}}`,
		},
		{
			name: "external client loses spoofed envoy and forwarding headers",
			req: func() *http.Request {
				return incoming("POST", "/api/items", "203.0.113.7:41000", http.Header{
					"Content-Type":              {"application/json"},
					"X-Forwarded-Proto":         {"https"},
					"X-Forwarded-For":           {"198.51.100.1"},
					"X-Envoy-Internal":          {"true"},
					"X-Envoy-Auth-Partial-Body": {"true"},
					"X-Request-Id":              {"spoofed"},
				})
			},
			newID: true,
			wantProto: `{"attributes":{
				"source":{"address":{"socketAddress":{"address":"203.0.113.7","portValue":41000}}},
				"destination":{"address":{"socketAddress":{"address":"10.0.0.2","portValue":8080}}},
				"request":{"time":"2026-11-27T12:00:00Z","http":{
					"id":"42","method":"POST","path":"/api/items","host":"app.example.test:8080",
					"scheme":"http","protocol":"HTTP/1.1",
					"headers":{
						":authority":"app.example.test:8080",":path":"/api/items",":method":"POST",":scheme":"http",
						"content-type":"application/json","x-forwarded-proto":"http",
						"x-forwarded-for":"198.51.100.1, 203.0.113.7","x-envoy-external-address":"203.0.113.7"}}},
				"metadataContext":{},"routeMetadataContext":{}}}`,
		},
		{
			name: "tls and http2 set scheme and protocol; an absolute-form target becomes a path",
			req: func() *http.Request {
				r := incoming("GET", "https://app.example.test:8080/x?y=1", "127.0.0.1:1234", http.Header{})
				r.TLS = &tls.ConnectionState{}
				r.ProtoMajor, r.ProtoMinor = 2, 0
				return r
			},
			newID: true,
			wantProto: `{"attributes":{
				"source":{"address":{"socketAddress":{"address":"127.0.0.1","portValue":1234}}},
				"destination":{"address":{"socketAddress":{"address":"10.0.0.2","portValue":8080}}},
				"request":{"time":"2026-11-27T12:00:00Z","http":{
					"id":"42","method":"GET","path":"/x?y=1","host":"app.example.test:8080",
					"scheme":"https","protocol":"HTTP/2",
					"headers":{
						":authority":"app.example.test:8080",":path":"/x?y=1",":method":"GET",":scheme":"https",
						"x-forwarded-proto":"https","x-forwarded-for":"127.0.0.1","x-envoy-internal":"true"}}},
				"metadataContext":{},"routeMetadataContext":{}}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.req()
			EdgeHeaders(r)
			got := CheckRequest(r, 42, start)
			hs := got.GetAttributes().GetRequest().GetHttp().GetHeaders()
			if tt.newID {
				require.Regexp(t, uuidV4, hs["x-request-id"])
				require.Equal(t, hs["x-request-id"], r.Header.Get("X-Request-Id"), "upstream sees the same id")
				delete(hs, "x-request-id")
			}
			b, err := protojson.Marshal(got)
			require.NoError(t, err)
			require.JSONEq(t, tt.wantProto, string(b))
		})
	}
}
