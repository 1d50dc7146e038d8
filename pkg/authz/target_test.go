package authz_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/pkg/authz"
)

// TestCheckTarget is the shared half of "strict at every door": the method, scheme, host and URI that
// every front reads from its one source. wantErr is a substring of the reason ("" accepts); every
// refusal wraps ErrBadRequest and its text never holds the value.
func TestCheckTarget(t *testing.T) {
	ok := authz.Request{Method: "GET", Scheme: "https", Host: "app.example.test", URI: "/dash?tab=2"}
	tests := []struct {
		name    string
		edit    func(r *authz.Request)
		wantErr string
	}{
		{"as a browser sends it", func(*authz.Request) {}, ""},
		// Methods (RFC 9110 section 9: case-sensitive tokens; PATCH from RFC 5789).
		{"every known method", func(r *authz.Request) { r.Method = "PATCH" }, ""},
		{"CONNECT is a method (RFC 8441 extended CONNECT has a path)", func(r *authz.Request) { r.Method = "CONNECT" }, ""},
		{"TRACE is a method", func(r *authz.Request) { r.Method = "TRACE" }, ""},
		{"lower-case get", func(r *authz.Request) { r.Method = "get" }, "method"},
		{"mixed-case Get", func(r *authz.Request) { r.Method = "Get" }, "method"},
		{"trailing space", func(r *authz.Request) { r.Method = "GET " }, "method"},
		{"leading tab", func(r *authz.Request) { r.Method = "\tGET" }, "method"},
		{"unknown FOO", func(r *authz.Request) { r.Method = "FOO" }, "method"},
		{"WebDAV PROPFIND is not known", func(r *authz.Request) { r.Method = "PROPFIND" }, "method"},
		{"a list", func(r *authz.Request) { r.Method = "GET,DELETE" }, "method"},
		{"CRLF injection", func(r *authz.Request) { r.Method = "GET\r\nX-Evil: 1" }, "method"},
		{"NUL", func(r *authz.Request) { r.Method = "GET\x00" }, "method"},
		{"empty method", func(r *authz.Request) { r.Method = "" }, "method"},
		// Schemes (fronts normalise with authz.Scheme first).
		{"http", func(r *authz.Request) { r.Scheme = "http" }, ""},
		{"javascript", func(r *authz.Request) { r.Scheme = "javascript" }, "scheme"},
		{"un-normalised HTTPS", func(r *authz.Request) { r.Scheme = "HTTPS" }, "scheme"},
		{"empty scheme", func(r *authz.Request) { r.Scheme = "" }, "scheme"},
		// Hosts (RFC 9110 section 7.2, RFC 3986 section 3.2.2).
		{"host with port", func(r *authz.Request) { r.Host = "app.example.test:8443" }, ""},
		{"upper-case host", func(r *authz.Request) { r.Host = "APP.Example.test" }, ""},
		{"single label", func(r *authz.Request) { r.Host = "localhost:4180" }, ""},
		{"underscore (compose service names)", func(r *authz.Request) { r.Host = "my_app.internal" }, ""},
		{"punycode IDN", func(r *authz.Request) { r.Host = "xn--bcher-kva.example" }, ""},
		{"IPv4", func(r *authz.Request) { r.Host = "192.0.2.7:8080" }, ""},
		{"IPv6", func(r *authz.Request) { r.Host = "[2001:db8::1]:8443" }, ""},
		{"IPv6 without port", func(r *authz.Request) { r.Host = "[::1]" }, ""},
		{"no host", func(r *authz.Request) { r.Host = "" }, "host"},
		{"userinfo a@b", func(r *authz.Request) { r.Host = "app.example.test@evil.test" }, "host"},
		{"unicode host", func(r *authz.Request) { r.Host = "bücher.example" }, "host"},
		{"fullwidth dot", func(r *authz.Request) { r.Host = "evil\uff0etest" }, "host"},
		{"port 0", func(r *authz.Request) { r.Host = "app.example.test:0" }, "host"},
		{"port 99999", func(r *authz.Request) { r.Host = "app.example.test:99999" }, "host"},
		{"port 65536", func(r *authz.Request) { r.Host = "app.example.test:65536" }, "host"},
		{"port with leading zero", func(r *authz.Request) { r.Host = "app.example.test:0443" }, "host"},
		{"empty port", func(r *authz.Request) { r.Host = "app.example.test:" }, "host"},
		{"signed port", func(r *authz.Request) { r.Host = "app.example.test:+443" }, "host"},
		{"two ports", func(r *authz.Request) { r.Host = "app.example.test:443:80" }, "host"},
		{"trailing dot", func(r *authz.Request) { r.Host = "app.example.test." }, "host"},
		{"empty label", func(r *authz.Request) { r.Host = "app..example.test" }, "host"},
		{"leading dot", func(r *authz.Request) { r.Host = ".example.test" }, "host"},
		{"label over 63", func(r *authz.Request) { r.Host = strings.Repeat("a", 64) + ".test" }, "host"},
		{"name over 253", func(r *authz.Request) { r.Host = strings.Repeat("a.", 127) + "test" }, "host"},
		{"a list", func(r *authz.Request) { r.Host = "app.example.test,evil.test" }, "host"},
		{"a space", func(r *authz.Request) { r.Host = "app.example.test evil.test" }, "host"},
		{"a path", func(r *authz.Request) { r.Host = "app.example.test/evil" }, "host"},
		{"a backslash", func(r *authz.Request) { r.Host = "evil.test\\app.example.test" }, "host"},
		{"percent-encoded", func(r *authz.Request) { r.Host = "app%2eexample.test" }, "host"},
		{"NUL", func(r *authz.Request) { r.Host = "app.example.test\x00.evil.test" }, "host"},
		{"unbracketed IPv6", func(r *authz.Request) { r.Host = "2001:db8::1" }, "host"},
		{"IPv6 with zone", func(r *authz.Request) { r.Host = "[fe80::1%25eth0]" }, "host"},
		{"IPv4 in brackets", func(r *authz.Request) { r.Host = "[192.0.2.7]" }, "host"},
		{"junk after brackets", func(r *authz.Request) { r.Host = "[::1]x" }, "host"},
		{"short IPv4 127.1", func(r *authz.Request) { r.Host = "127.1" }, "host"},
		{"decimal IPv4", func(r *authz.Request) { r.Host = "2130706433" }, "host"},
		{"hex IPv4", func(r *authz.Request) { r.Host = "0x7f.0.0.1" }, "host"},
		{"octal IPv4", func(r *authz.Request) { r.Host = "0177.0.0.1" }, "host"},
		// URIs: origin-form only (RFC 9112 section 3.2.1), and nothing that parsers read differently.
		{"root", func(r *authz.Request) { r.URI = "/" }, ""},
		{"encoded slash in the query is data", func(r *authz.Request) { r.URI = "/api?x=%2F&y=%00" }, ""},
		{"double slash inside the path", func(r *authz.Request) { r.URI = "/a//b" }, ""},
		{"dots inside a name", func(r *authz.Request) { r.URI = "/v1.2/..x/.well-known/a..b" }, ""},
		{"dot segments in the query are data", func(r *authz.Request) { r.URI = "/a?p=/../etc" }, ""},
		{"sub-delims", func(r *authz.Request) { r.URI = "/a,b;c=d/e!$&'()*+=:@?q=1,2" }, ""},
		{"empty uri", func(r *authz.Request) { r.URI = "" }, "missing"},
		{"relative", func(r *authz.Request) { r.URI = "dash" }, "origin-form"},
		{"absolute-form", func(r *authz.Request) { r.URI = "http://evil/" }, "origin-form"},
		{"authority-form", func(r *authz.Request) { r.URI = "evil.test:443" }, "origin-form"},
		{"asterisk-form", func(r *authz.Request) { r.URI = "*" }, "origin-form"},
		{"scheme-relative //evil.com", func(r *authz.Request) { r.URI = "//evil.com/x" }, "//"},
		{"/\\evil.com", func(r *authz.Request) { r.URI = "/\\evil.com" }, "//"},
		{"/..%2f traversal", func(r *authz.Request) { r.URI = "/public/..%2fadmin" }, "encoded"},
		{"%2F lower and upper", func(r *authz.Request) { r.URI = "/a%2Fb" }, "encoded"},
		{"%5c encoded backslash", func(r *authz.Request) { r.URI = "/a%5cb" }, "encoded"},
		{"%00 in the path", func(r *authz.Request) { r.URI = "/a%00.html" }, "encoded"},
		{"raw backslash", func(r *authz.Request) { r.URI = "/a\\..\\admin" }, "backslash"},
		{"dot-dot segment", func(r *authz.Request) { r.URI = "/public/../admin" }, "segment"},
		{"trailing dot-dot", func(r *authz.Request) { r.URI = "/public/.." }, "segment"},
		{"dot segment", func(r *authz.Request) { r.URI = "/./admin" }, "segment"},
		{"dot-dot before the query", func(r *authz.Request) { r.URI = "/a/..?x=1" }, "segment"},
		{"encoded dot-dot %2e%2e", func(r *authz.Request) { r.URI = "/public/%2e%2e/admin" }, "segment"},
		{"half-encoded .%2E", func(r *authz.Request) { r.URI = "/public/.%2E/admin" }, "segment"},
		{"Tomcat ..;/", func(r *authz.Request) { r.URI = "/public/..;/admin" }, "segment"},
		{"raw space", func(r *authz.Request) { r.URI = "/a b" }, "control"},
		{"tab", func(r *authz.Request) { r.URI = "/a\tb" }, "control"},
		{"CRLF", func(r *authz.Request) { r.URI = "/a\r\nSet-Cookie: x=1" }, "control"},
		{"raw NUL", func(r *authz.Request) { r.URI = "/a\x00" }, "control"},
		{"DEL", func(r *authz.Request) { r.URI = "/a\x7f" }, "control"},
		{"raw UTF-8", func(r *authz.Request) { r.URI = "/bücher" }, "non-ASCII"},
		{"raw UTF-8 in the query", func(r *authz.Request) { r.URI = "/a?q=bücher" }, "non-ASCII"},
		{"fragment", func(r *authz.Request) { r.URI = "/a#frag" }, "fragment"},
		{"space in the query", func(r *authz.Request) { r.URI = "/a?q=a b" }, "control"},
		{"truncated percent", func(r *authz.Request) { r.URI = "/a%2" }, "percent"},
		{"bad percent", func(r *authz.Request) { r.URI = "/a%zz" }, "percent"},
		{"bad percent in the query", func(r *authz.Request) { r.URI = "/a?q=%g0" }, "percent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ok
			tt.edit(&r)
			err := authz.CheckTarget(&r)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.True(t, errors.Is(err, authz.ErrBadRequest))
			var re *authz.RequestError
			require.True(t, errors.As(err, &re))
			require.Contains(t, re.Reason, tt.wantErr)
			for _, v := range []string{r.Host, r.URI} {
				if len(v) > 3 && v != ok.Host && v != ok.URI {
					require.NotContains(t, err.Error(), v, "a refusal never repeats the value")
				}
			}
		})
	}
}

// TestScheme: what a forwarded-proto value may say.
func TestScheme(t *testing.T) {
	for in, want := range map[string]string{
		"http": "http", "https": "https", "HTTPS": "https", "Http": "http", "ws": "http", "wss": "https", "WSS": "https",
		"javascript": "", "ftp": "", "": "", "https,http": "", "https, http": "", " https": "", "https ": "", "http\x00": "",
		"httpss": "", "file": "", "data": "",
	} {
		got, ok := authz.Scheme(in)
		require.Equal(t, want, got, "%q", in)
		require.Equal(t, want != "", ok, "%q", in)
	}
}

// BenchmarkCheckTarget: every request a front takes goes through it.
func BenchmarkCheckTarget(b *testing.B) {
	r := &authz.Request{Method: "GET", Scheme: "https", Host: "app.example.test:8443", URI: "/api/v1/items/42?page=2&sort=name,asc"}
	b.ReportAllocs()
	for b.Loop() {
		if err := authz.CheckTarget(r); err != nil {
			b.Fatal(err)
		}
	}
}
