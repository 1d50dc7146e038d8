package extauthz_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/pkg/extauthz"
)

// Edits of an Envoy-shaped CheckRequest.
func hdr(k, v string) func(*authv3.CheckRequest) {
	return func(r *authv3.CheckRequest) { r.Attributes.Request.Http.Headers[k] = v }
}

func del(k string) func(*authv3.CheckRequest) {
	return func(r *authv3.CheckRequest) { delete(r.Attributes.Request.Http.Headers, k) }
}

func attr(edit func(h *authv3.AttributeContext_HttpRequest)) func(*authv3.CheckRequest) {
	return func(r *authv3.CheckRequest) { edit(r.Attributes.Request.Http) }
}

// raw adds header_map entries as Envoy sends them with encode_raw_headers: key and raw_value.
func raw(kv ...string) func(*authv3.CheckRequest) {
	return func(r *authv3.CheckRequest) {
		h := r.Attributes.Request.Http
		if h.HeaderMap == nil {
			h.HeaderMap = &corev3.HeaderMap{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			h.HeaderMap.Headers = append(h.HeaderMap.Headers, &corev3.HeaderValue{Key: kv[i], RawValue: []byte(kv[i+1])})
		}
	}
}

// target sets the method, path and host everywhere Envoy puts them.
func target(method, path, host string) func(*authv3.CheckRequest) {
	return func(r *authv3.CheckRequest) {
		h := r.Attributes.Request.Http
		h.Method, h.Path, h.Host = method, path, host
		h.Headers[":method"], h.Headers[":path"], h.Headers[":authority"] = method, path, host
	}
}

// TestCheckRefusals: a CheckRequest that does not describe exactly one request is answered in band with
// 400 and INVALID_ARGUMENT, a short plain-text reason, no cookie, no Location: never a login. The
// server has no engine: a row that reached it would panic. Rows are tricks from the advisories of
// Envoy, Istio, oauth2-proxy, Pomerium and Authelia and from RFC 3986/9110/9112.
func TestCheckRefusals(t *testing.T) {
	const session = "authbridge=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	tests := []struct {
		name   string
		edits  []func(*authv3.CheckRequest)
		reason string
	}{
		// x-forwarded-proto. Review: "javascript" became login_url "javascript://…".
		{"review: x-forwarded-proto javascript", es(hdr("x-forwarded-proto", "javascript")), "x-forwarded-proto is not http or https"},
		{"x-forwarded-proto list from a chain", es(hdr("x-forwarded-proto", "https,http")), "x-forwarded-proto is not"},
		{"x-forwarded-proto list with space", es(hdr("x-forwarded-proto", "https, http")), "x-forwarded-proto is not"},
		{"x-forwarded-proto ftp", es(hdr("x-forwarded-proto", "ftp")), "x-forwarded-proto is not"},
		{"X-Forwarded-Proto key not lower-cased", es(del("x-forwarded-proto"), hdr("X-Forwarded-Proto", "javascript")), "x-forwarded-proto is not"},
		{"x-forwarded-proto in two spellings that differ", es(hdr("X-Forwarded-Proto", "http")), "x-forwarded-proto appears twice"},
		{"x-forwarded-proto in both encodings that differ", es(raw("x-forwarded-proto", "http")), "x-forwarded-proto appears twice"},
		// Cookies: two that disagree are two sessions; which one is never guessed.
		{"cookie and Cookie differ", es(hdr("cookie", session), hdr("Cookie", "authbridge=BBBB")), "cookie appears twice"},
		{"cookie in headers and header_map differ", es(hdr("cookie", session), raw("cookie", "authbridge=BBBB")), "cookie appears twice"},
		{"two cookie entries in header_map differ", es(raw("cookie", session, "cookie", "authbridge=BBBB")), "cookie appears twice"},
		{"cookie value and raw_value differ", es(func(r *authv3.CheckRequest) {
			r.Attributes.Request.Http.HeaderMap = &corev3.HeaderMap{Headers: []*corev3.HeaderValue{{Key: "cookie", Value: session, RawValue: []byte("authbridge=BBBB")}}}
		}), "cookie has a value and a raw_value that differ"},
		{"accept in two spellings that differ", es(hdr("accept", "application/json"), hdr("Accept", "text/html")), "accept appears twice"},
		{"sec-fetch-mode in two spellings that differ", es(hdr("sec-fetch-mode", "cors"), raw("Sec-Fetch-Mode", "navigate")), "sec-fetch-mode appears twice"},
		// Attributes and pseudo-headers: two sources that must say the same.
		{":authority vs host attribute", es(hdr(":authority", "evil.test")), "host attribute and :authority disagree"},
		{":Authority in two spellings", es(hdr(":Authority", "evil.test")), ":authority appears twice"},
		{"host header vs :authority", es(hdr("host", "evil.test")), "host and :authority disagree"},
		{":path vs path attribute", es(hdr(":path", "/admin")), "path attribute and :path disagree"},
		{":path vs path attribute in header_map", es(raw(":path", "/admin")), ":path appears twice"},
		{":method vs method attribute", es(hdr(":method", "DELETE")), "method attribute and :method disagree"},
		{":scheme vs scheme attribute", es(del("x-forwarded-proto"), hdr(":scheme", "https")), "scheme attribute and :scheme disagree"},
		// The same rules as the HTTP fronts.
		{"method get", es(target("get", "/api", enginetest.AppHost)), "method is not"},
		{"method FOO", es(target("FOO", "/api", enginetest.AppHost)), "method is not"},
		{"method with trailing space", es(target("GET ", "/api", enginetest.AppHost)), "method is not"},
		{"no method", es(target("", "/api", enginetest.AppHost)), "method is not"},
		{"CONNECT authority-form", es(target("CONNECT", "evil.test:443", enginetest.AppHost)), "origin-form"},
		{"path /..%2f", es(target("GET", "/public/..%2fadmin", enginetest.AppHost)), "encoded"},
		{"path //evil.com", es(target("GET", "//evil.com/x", enginetest.AppHost)), "//"},
		{"path absolute-form", es(target("GET", "http://evil/", enginetest.AppHost)), "origin-form"},
		{"path with tab", es(target("GET", "/a\tb", enginetest.AppHost)), "control"},
		{"path with CRLF", es(target("GET", "/a\r\nx: y", enginetest.AppHost)), "control"},
		{"path %00", es(target("GET", "/a%00.html", enginetest.AppHost)), "encoded"},
		{"path dot-dot", es(target("GET", "/public/../admin", enginetest.AppHost)), "segment"},
		{"path Tomcat ..;", es(target("GET", "/public/..;/admin", enginetest.AppHost)), "segment"},
		{"path backslash", es(target("GET", "/a\\b", enginetest.AppHost)), "backslash"},
		{"no path", es(target("GET", "", enginetest.AppHost)), "uri is missing"},
		{"host unicode", es(target("GET", "/", "аpp.example.test")), "host is not"},
		{"host with userinfo", es(target("GET", "/", "app.example.test@evil.test")), "host is not"},
		{"host port 0", es(target("GET", "/", "app.example.test:0")), "host is not"},
		{"host port 99999", es(target("GET", "/", "app.example.test:99999")), "host is not"},
		{"host list", es(target("GET", "/", "app.example.test,evil.test")), "host is not"},
		{"no host", es(target("GET", "/", "")), "host is not"},
		{"no http attributes", es(func(r *authv3.CheckRequest) { r.Attributes.Request.Http = nil }), "no http request attributes"},
		{"no attributes", es(func(r *authv3.CheckRequest) { r.Attributes = nil }), "no http request attributes"},
	}
	srv := extauthz.New(nil, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := envoyRequest("GET", "/api", map[string]string{"accept": "application/json"})
			for _, e := range tt.edits {
				e(req)
			}
			resp, err := srv.Check(context.Background(), req)
			require.NoError(t, err, "every outcome is a CheckResponse, never a gRPC error")
			require.Equal(t, int32(codes.InvalidArgument), resp.GetStatus().GetCode())
			den := resp.GetDeniedResponse()
			require.EqualValues(t, 400, den.GetStatus().GetCode())
			require.Contains(t, den.GetBody(), tt.reason)
			require.NotContains(t, den.GetBody(), "AAAAAAAA", "a refusal never repeats a cookie")
			require.NotContains(t, den.GetBody(), "evil", "a refusal never repeats a value")
			hs := headerMap(den.GetHeaders())
			require.Equal(t, []string{"no-store"}, hs["cache-control"])
			require.Equal(t, []string{"text/plain; charset=utf-8"}, hs["content-type"])
			require.Equal(t, []string{"nosniff"}, hs["x-content-type-options"])
			for _, k := range []string{"set-cookie", "location", "www-authenticate"} {
				require.NotContains(t, hs, k)
			}
		})
	}
}

func es(edits ...func(*authv3.CheckRequest)) []func(*authv3.CheckRequest) { return edits }

// TestCheckReadsEitherEncoding: what Envoy may legitimately send is read as one request, whatever the
// key's case or encoding, and a scheme is only ever http or https.
func TestCheckReadsEitherEncoding(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{})
	srv := extauthz.New(env.Engine, nil)
	tests := []struct {
		name      string
		edits     []func(*authv3.CheckRequest)
		wantLogin string // the 401's login_url
	}{
		{"envoy defaults", nil, "https://" + enginetest.AppHost + "/oauth2/start?rd=%2Fapi"},
		{"x-forwarded-proto HTTPS", es(hdr("x-forwarded-proto", "HTTPS")), "https://" + enginetest.AppHost + "/oauth2/start?rd=%2Fapi"},
		{"no x-forwarded-proto: the scheme attribute", es(del("x-forwarded-proto")), "http://" + enginetest.AppHost + "/oauth2/start?rd=%2Fapi"},
		{"keys not lower-cased", es(del("x-forwarded-proto"), del("accept"), hdr("X-Forwarded-Proto", "https"), hdr("Accept", "application/json")),
			"https://" + enginetest.AppHost + "/oauth2/start?rd=%2Fapi"},
		{"encode_raw_headers: header_map only, no attributes but method", es(func(r *authv3.CheckRequest) {
			h := r.Attributes.Request.Http
			h.Headers, h.Path, h.Host, h.Scheme = nil, "", "", ""
		}, raw(":Authority", enginetest.AppHost, ":path", "/api", ":method", "GET", ":scheme", "http", "X-Forwarded-Proto", "https", "accept", "application/json")),
			"https://" + enginetest.AppHost + "/oauth2/start?rd=%2Fapi"},
		{"the same cookie in both encodings", es(hdr("cookie", "theme=dark"), raw("Cookie", "theme=dark")), "https://" + enginetest.AppHost + "/oauth2/start?rd=%2Fapi"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := envoyRequest("GET", "/api", map[string]string{"accept": "application/json"})
			for _, e := range tt.edits {
				e(req)
			}
			resp, err := srv.Check(context.Background(), req)
			require.NoError(t, err)
			den := resp.GetDeniedResponse()
			require.EqualValues(t, 401, den.GetStatus().GetCode(), den.GetBody())
			var body struct {
				LoginURL string `json:"login_url"`
			}
			require.NoError(t, json.Unmarshal([]byte(den.GetBody()), &body))
			require.Equal(t, tt.wantLogin, body.LoginURL)
		})
	}
}

// TestCheckRemovesIdentityHeadersInAnySpelling: a client's Authorization in another case is not put
// in headers_to_remove (Envoy would remove the bearer it just set), and other identity headers are,
// from either encoding.
func TestCheckRemovesIdentityHeadersInAnySpelling(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{})
	c := client(t, env)
	session := loginThroughCheck(t, env, c)
	req := envoyRequest("GET", "/api", map[string]string{"cookie": session, "Authorization": "Bearer forged", "X-Auth-Request-User": "mallory"})
	raw("X-Forwarded-User", "mallory", "AUTHORIZATION", "Bearer forged")(req)
	resp, err := c.Check(context.Background(), req)
	require.NoError(t, err)
	ok := resp.GetOkResponse()
	require.NotNil(t, ok)
	require.Equal(t, []string{"X-Forwarded-User", "cookie"}, ok.GetHeadersToRemove(), "the cookie held only the session")
	for _, k := range ok.GetHeadersToRemove() {
		require.False(t, strings.EqualFold(k, "authorization"))
	}
	require.True(t, strings.HasPrefix(headerMap(ok.GetHeaders())["authorization"][0], "Bearer ey"))
}
