package forwardauth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestForwardedRefusals: the gateway-only listener refuses every request description that is
// ambiguous, incomplete or malformed, in each gateway's mode, with 400 and a short plain-text reason,
// and a peer outside trusted_proxies with 403. The handler has no engine: a row that reached it would
// panic, so none of these starts a login, reads a session or is authorised. Rows are tricks from the
// advisories of oauth2-proxy, Pomerium, Authelia, Envoy and Traefik and from RFC 3986/9110/9112.
func TestForwardedRefusals(t *testing.T) {
	tests := []struct {
		name    string
		remote  string
		path    string
		headers http.Header
		want    int
		reason  string // in the body
	}{
		// Traefik and Caddy (/auth): X-Forwarded-Method, -Proto, -Host and -Uri, all four required.
		{"traefik without X-Forwarded-Method", proxyV4, PathAuth, without(traefik, "X-Forwarded-Method"), 400, "X-Forwarded-Method is missing"},
		{"traefik without X-Forwarded-Uri", proxyV4, PathAuth, without(traefik, "X-Forwarded-Uri"), 400, "X-Forwarded-Uri is missing"},
		{"traefik without X-Forwarded-Host", proxyV4, PathAuth, without(traefik, "X-Forwarded-Host"), 400, "X-Forwarded-Host is missing"},
		{"traefik without X-Forwarded-Proto", proxyV4, PathAuth, without(traefik, "X-Forwarded-Proto"), 400, "X-Forwarded-Proto is missing"},
		{"empty X-Forwarded-Host", proxyV4, PathAuth, with(traefik, "X-Forwarded-Host", ""), 400, "X-Forwarded-Host is missing"},
		{"caddy without X-Forwarded-Host (no reverse_proxy headers)", proxyV4, PathAuth, without(caddy, "X-Forwarded-Host"), 400, "X-Forwarded-Host is missing"},
		{"two X-Forwarded-Host headers", proxyV4, PathAuth, with(traefik, "X-Forwarded-Host", "app.example.test", "X-Forwarded-Host", "evil.test"), 400, "X-Forwarded-Host appears more than once"},
		{"two identical X-Forwarded-Host headers", proxyV4, PathAuth, with(traefik, "X-Forwarded-Host", "app.example.test", "x-forwarded-host", "app.example.test"), 400, "more than once"},
		{"X-Forwarded-Host list", proxyV4, PathAuth, with(traefik, "X-Forwarded-Host", "app.example.test,evil.test"), 400, "X-Forwarded-Host holds a list"},
		{"X-Forwarded-Host list, first value padded", proxyV4, PathAuth, with(traefik, "X-Forwarded-Host", " app.example.test ,internal.svc"), 400, "holds a list"},
		{"X-Forwarded-Host unicode", proxyV4, PathAuth, with(traefik, "X-Forwarded-Host", "аpp.example.test"), 400, "host is not"},
		{"X-Forwarded-Host userinfo a@b", proxyV4, PathAuth, with(traefik, "X-Forwarded-Host", "app.example.test@evil.test"), 400, "host is not"},
		{"X-Forwarded-Host port 0", proxyV4, PathAuth, with(traefik, "X-Forwarded-Host", "app.example.test:0"), 400, "host is not"},
		{"X-Forwarded-Host port 99999", proxyV4, PathAuth, with(traefik, "X-Forwarded-Host", "app.example.test:99999"), 400, "host is not"},
		{"X-Forwarded-Host with a path", proxyV4, PathAuth, with(traefik, "X-Forwarded-Host", "evil.test/app.example.test"), 400, "host is not"},
		{"X-Forwarded-Host CRLF", proxyV4, PathAuth, with(traefik, "X-Forwarded-Host", "app.example.test\r\nX-Evil: 1"), 400, "host is not"},
		{"X-Forwarded-Proto https,http from a chain", proxyV4, PathAuth, with(traefik, "X-Forwarded-Proto", "https,http"), 400, "X-Forwarded-Proto holds a list"},
		{"X-Forwarded-Proto https, http", proxyV4, PathAuth, with(traefik, "X-Forwarded-Proto", "https, http"), 400, "holds a list"},
		{"two X-Forwarded-Proto headers", proxyV4, PathAuth, with(traefik, "X-Forwarded-Proto", "https", "X-Forwarded-Proto", "http"), 400, "more than once"},
		{"X-Forwarded-Proto javascript", proxyV4, PathAuth, with(traefik, "X-Forwarded-Proto", "javascript"), 400, "X-Forwarded-Proto is not http or https"},
		{"X-Forwarded-Proto ftp", proxyV4, PathAuth, with(caddy, "X-Forwarded-Proto", "ftp"), 400, "not http or https"},
		{"X-Forwarded-Method get", proxyV4, PathAuth, with(traefik, "X-Forwarded-Method", "get"), 400, "method is not"},
		{"X-Forwarded-Method GET with trailing space", proxyV4, PathAuth, with(traefik, "X-Forwarded-Method", "GET "), 400, "method is not"},
		{"X-Forwarded-Method FOO", proxyV4, PathAuth, with(traefik, "X-Forwarded-Method", "FOO"), 400, "method is not"},
		{"X-Forwarded-Method list", proxyV4, PathAuth, with(traefik, "X-Forwarded-Method", "GET,DELETE"), 400, "holds a list"},
		{"two X-Forwarded-Method headers", proxyV4, PathAuth, with(caddy, "X-Forwarded-Method", "GET", "X-Forwarded-Method", "DELETE"), 400, "more than once"},
		{"CONNECT with authority-form target", proxyV4, PathAuth, with(traefik, "X-Forwarded-Method", "CONNECT", "X-Forwarded-Uri", "evil.test:443"), 400, "origin-form"},
		{"X-Forwarded-Uri /..%2f", proxyV4, PathAuth, with(traefik, "X-Forwarded-Uri", "/public/..%2fadmin"), 400, "encoded"},
		{"X-Forwarded-Uri //evil.com", proxyV4, PathAuth, with(traefik, "X-Forwarded-Uri", "//evil.com/x"), 400, "//"},
		{"X-Forwarded-Uri absolute-form", proxyV4, PathAuth, with(traefik, "X-Forwarded-Uri", "http://evil/"), 400, "origin-form"},
		{"X-Forwarded-Uri without slash", proxyV4, PathAuth, with(traefik, "X-Forwarded-Uri", "dash"), 400, "origin-form"},
		{"X-Forwarded-Uri tab", proxyV4, PathAuth, with(traefik, "X-Forwarded-Uri", "/a\tb"), 400, "control"},
		{"X-Forwarded-Uri CRLF", proxyV4, PathAuth, with(traefik, "X-Forwarded-Uri", "/a\r\nSet-Cookie: x=1"), 400, "control"},
		{"X-Forwarded-Uri %00", proxyV4, PathAuth, with(traefik, "X-Forwarded-Uri", "/index.php%00.html"), 400, "encoded"},
		{"X-Forwarded-Uri dot-dot", proxyV4, PathAuth, with(caddy, "X-Forwarded-Uri", "/public/../admin"), 400, "segment"},
		{"X-Forwarded-Uri Tomcat ..;", proxyV4, PathAuth, with(caddy, "X-Forwarded-Uri", "/public/..;/admin"), 400, "segment"},
		{"X-Forwarded-Uri backslash", proxyV4, PathAuth, with(caddy, "X-Forwarded-Uri", "/a\\b"), 400, "backslash"},
		{"two X-Forwarded-Uri headers", proxyV4, PathAuth, with(traefik, "X-Forwarded-Uri", "/a", "X-Forwarded-Uri", "/admin"), 400, "more than once"},
		{"X-Original-URL disagrees in traefik mode", proxyV4, PathAuth, with(traefik, "X-Original-Url", "https://app.example.test/admin"), 400, "X-Original-URL disagrees with X-Forwarded-Uri"},
		{"X-Original-Method disagrees in traefik mode", proxyV4, PathAuth, with(traefik, "X-Original-Method", "GET"), 400, "X-Original-Method disagrees with X-Forwarded-Method"},
		{"malformed X-Original-URL in traefik mode", proxyV4, PathAuth, with(caddy, "X-Original-Url", "javascript://app.example.test/"), 400, "X-Original-URL is not"},

		// nginx (/oauth2/auth): X-Original-URL and X-Original-Method, which nginx sets itself. Review:
		// through the shipped config a client's X-Forwarded-Uri and -Method were believed over them.
		{"review: client X-Forwarded-Uri /spoofed", proxyV4, PathNginxAuth, with(nginx, "X-Forwarded-Uri", "/spoofed"), 400, "X-Forwarded-Uri disagrees with X-Original-URL"},
		{"review: client X-Forwarded-Method DELETE", proxyV4, PathNginxAuth, with(nginx, "X-Forwarded-Method", "DELETE"), 400, "X-Forwarded-Method disagrees with X-Original-Method"},
		{"client X-Forwarded-Host vs X-Original-URL host", proxyV4, PathNginxAuth, with(nginx, "X-Forwarded-Host", "evil.test"), 400, "X-Forwarded-Host disagrees with X-Original-URL"},
		{"client X-Forwarded-Proto vs X-Original-URL scheme", proxyV4, PathNginxAuth, with(nginx, "X-Forwarded-Proto", "http"), 400, "X-Forwarded-Proto disagrees with X-Original-URL"},
		{"client X-Forwarded-Proto javascript", proxyV4, PathNginxAuth, with(nginx, "X-Forwarded-Proto", "javascript"), 400, "not http or https"},
		{"nginx without X-Original-URL", proxyV4, PathNginxAuth, without(nginx, "X-Original-Url"), 400, "X-Original-URL is missing"},
		{"nginx without X-Original-Method", proxyV4, PathNginxAuth, without(nginx, "X-Original-Method"), 400, "X-Original-Method is missing"},
		{"X-Original-Method get", proxyV4, PathNginxAuth, with(nginx, "X-Original-Method", "get"), 400, "method is not"},
		{"X-Original-Method list", proxyV4, PathNginxAuth, with(nginx, "X-Original-Method", "GET, DELETE"), 400, "holds a list"},
		{"two X-Original-URL headers", proxyV4, PathNginxAuth, with(nginx, "X-Original-Url", "https://app.example.test/", "X-Original-Url", "https://evil.test/"), 400, "more than once"},
		{"relative X-Original-URL", proxyV4, PathNginxAuth, with(nginx, "X-Original-Url", "/dash"), 400, "not an absolute http(s) URL"},
		{"X-Original-URL javascript:", proxyV4, PathNginxAuth, with(nginx, "X-Original-Url", "javascript://app.example.test/%0aalert(1)"), 400, "not an absolute http(s) URL"},
		{"X-Original-URL userinfo", proxyV4, PathNginxAuth, with(nginx, "X-Original-Url", "https://app.example.test@evil.test/"), 400, "host is not"},
		{"X-Original-URL without host (HTTP/1.0, no Host)", proxyV4, PathNginxAuth, with(nginx, "X-Original-Url", "http:///dash"), 400, "no host"},
		{"X-Original-URL //evil.com path", proxyV4, PathNginxAuth, with(nginx, "X-Original-Url", "https://app.example.test//evil.com"), 400, "//"},
		{"X-Original-URL encoded slash", proxyV4, PathNginxAuth, with(nginx, "X-Original-Url", "https://app.example.test/a%2F..%2Fadmin"), 400, "encoded"},
		{"X-Original-URL raw UTF-8 path", proxyV4, PathNginxAuth, with(nginx, "X-Original-Url", "https://app.example.test/bücher"), 400, "non-ASCII"},
		{"X-Original-URL host with port 99999", proxyV4, PathNginxAuth, with(nginx, "X-Original-Url", "https://app.example.test:99999/"), 400, "host is not"},

		// Peers outside trusted_proxies: nothing they send describes a request, and the answer would
		// carry the token to whoever reached the gateway-only port.
		{"untrusted peer with traefik headers", clientV4, PathAuth, traefik, 403, "trusted gateways only"},
		{"untrusted peer with nothing (a browser on the gateway port)", clientV4, PathAuth, http.Header{"Accept": {"text/html"}}, 403, "trusted gateways only"},
		{"untrusted peer with nginx headers", clientV6, PathNginxAuth, nginx, 403, "trusted gateways only"},
		{"untrusted IPv4-mapped peer", mappedOut, PathAuth, traefik, 403, "trusted gateways only"},
		{"peer without port", "10.0.0.2", PathAuth, traefik, 403, "trusted gateways only"},
	}
	h := NewGateway(nil, Options{TrustedProxies: trusted})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tt.path, nil)
			r.RemoteAddr, r.Host = tt.remote, "authbridge:4181"
			for k, vs := range tt.headers {
				r.Header[k] = vs
			}
			requireRefused(t, h, r, tt.want, tt.reason)
		})
	}
}

// TestDirectRefusals: the browser-facing listener holds a trusted proxy's X-Forwarded-Proto and -Host,
// and the request itself, to the same rules.
func TestDirectRefusals(t *testing.T) {
	tests := []struct {
		name    string
		remote  string
		method  string
		host    string
		headers http.Header
		reason  string
	}{
		{"two X-Forwarded-Host headers", proxyV4, "GET", "authbridge:4180", http.Header{"X-Forwarded-Host": {"app.example.test", "evil.test"}}, "more than once"},
		{"X-Forwarded-Host list", proxyV4, "GET", "authbridge:4180", http.Header{"X-Forwarded-Host": {"app.example.test, evil.test"}}, "holds a list"},
		{"X-Forwarded-Host userinfo", proxyV4, "GET", "authbridge:4180", http.Header{"X-Forwarded-Host": {"app.example.test@evil.test"}}, "host is not"},
		{"X-Forwarded-Proto javascript", proxyV4, "GET", "authbridge:4180", http.Header{"X-Forwarded-Proto": {"javascript"}}, "not http or https"},
		{"X-Forwarded-Proto list", proxyV4, "GET", "authbridge:4180", http.Header{"X-Forwarded-Proto": {"https,http"}}, "holds a list"},
		{"unknown method", clientV4, "FOO", "authbridge:4180", nil, "method is not"},
		{"Host with userinfo", clientV4, "GET", "user@authbridge", nil, "host is not"},
		{"no Host", clientV4, "GET", "", nil, "host is not"},
	}
	h := NewBrowser(nil, Options{TrustedProxies: trusted})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/oauth2/start?rd=%2Fx", nil)
			r.RemoteAddr, r.Host = tt.remote, tt.host
			for k, vs := range tt.headers {
				r.Header[k] = vs
			}
			requireRefused(t, h, r, http.StatusBadRequest, tt.reason)
		})
	}
}

// requireRefused serves r and checks the refusal: status, a plain-text no-store body naming the
// reason and holding none of the request's header values, and nothing a gateway could act on.
func requireRefused(t *testing.T, h http.Handler, r *http.Request, status int, reason string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	require.Equal(t, status, rec.Code, rec.Body.String())
	require.Equal(t, "text/plain; charset=utf-8", rec.Header().Get("Content-Type"))
	require.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	require.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
	require.Contains(t, rec.Body.String(), reason)
	for _, k := range []string{"Set-Cookie", "Location", "Authorization", "Www-Authenticate", "X-Auth-Request-User", "Cookie"} {
		require.Empty(t, rec.Header().Values(k), k)
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			if len(v) > 4 && !strings.Contains(reason, v) {
				require.NotContains(t, rec.Body.String(), v, "the body repeats %s", k)
			}
		}
	}
}

// without returns a copy of h without the keys.
func without(h http.Header, keys ...string) http.Header {
	out := h.Clone()
	for _, k := range keys {
		delete(out, http.CanonicalHeaderKey(k))
	}
	return out
}
