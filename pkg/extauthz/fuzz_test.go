package extauthz

import (
	"errors"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/proto"

	"github.com/authbridge/authbridge/pkg/authz"
)

// FuzzToRequest checks the CheckRequest adapter on arbitrary protobuf bytes (what reaches the gRPC
// server): every refusal is a *authz.RequestError, and an accepted request is a valid target whose
// method, host and path are those of the attributes and of the pseudo-headers wherever each is given
// (so no two sources were resolved by picking one).
func FuzzToRequest(f *testing.F) {
	seed := func(edit func(h *authv3.AttributeContext_HttpRequest)) {
		r := benchRequest()
		if edit != nil {
			edit(r.Attributes.Request.Http)
		}
		b, err := proto.Marshal(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	seed(nil)
	seed(func(h *authv3.AttributeContext_HttpRequest) { h.Headers[":authority"] = "evil.test" })
	seed(func(h *authv3.AttributeContext_HttpRequest) { h.Headers["x-forwarded-proto"] = "https,http" })
	seed(func(h *authv3.AttributeContext_HttpRequest) {
		h.Path, h.Headers[":path"] = "//evil.test/", "//evil.test/"
	})
	seed(func(h *authv3.AttributeContext_HttpRequest) {
		h.HeaderMap = &corev3.HeaderMap{Headers: []*corev3.HeaderValue{{Key: "Cookie", RawValue: []byte("authbridge=x")}, {Key: "cookie", Value: "y"}}}
	})
	seed(func(h *authv3.AttributeContext_HttpRequest) {
		h.Headers = map[string]string{}
		h.HeaderMap = &corev3.HeaderMap{Headers: []*corev3.HeaderValue{{Key: ":authority", RawValue: []byte("app.example.test")},
			{Key: ":path", Value: "/x", RawValue: []byte("/y")}, {Key: "HOST", RawValue: []byte("other.test")}}}
	})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var req authv3.CheckRequest
		if proto.Unmarshal(b, &req) != nil {
			return
		}
		in, err := toRequest(&req)
		if err != nil {
			var re *authz.RequestError
			if !errors.As(err, &re) {
				t.Fatalf("refusal %v is not a RequestError", err)
			}
			return
		}
		if err := authz.CheckTarget(&in.Request); err != nil {
			t.Fatalf("accepted an invalid target %+v: %v", in.Request, err)
		}
		h := req.GetAttributes().GetRequest().GetHttp()
		for _, src := range []struct{ attr, key, got string }{
			{h.GetMethod(), ":method", in.Method}, {h.GetHost(), ":authority", in.Host}, {h.GetPath(), ":path", in.URI},
		} {
			if src.attr != "" && src.attr != src.got {
				t.Fatalf("attribute %q, adapted %q", src.attr, src.got)
			}
			for k, v := range h.GetHeaders() {
				if strings.EqualFold(k, src.key) && v != "" && v != src.got {
					t.Fatalf("header %s %q, adapted %q", k, v, src.got)
				}
			}
			for _, hv := range h.GetHeaderMap().GetHeaders() {
				v := hv.GetValue()
				if v == "" {
					v = string(hv.GetRawValue())
				}
				if strings.EqualFold(hv.GetKey(), src.key) && v != "" && v != src.got {
					t.Fatalf("header_map %s %q, adapted %q", hv.GetKey(), v, src.got)
				}
			}
		}
	})
}
