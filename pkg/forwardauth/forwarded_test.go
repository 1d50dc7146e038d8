package forwardauth

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/pkg/authz"
)

// Peers the table uses: a proxy in the trusted ranges, and a client outside them.
const (
	proxyV4   = "10.0.0.2:41234"
	proxyV6   = "[2001:db8::5]:41234"
	proxyV4in = "[::ffff:10.0.0.2]:41234" // a dual-stack listener reports IPv4 peers this way
	clientV4  = "203.0.113.9:51000"
	clientV6  = "[2001:db9::5]:51000"
	mappedOut = "[::ffff:203.0.113.9]:51000"
)

var trusted = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}

// Header sets the gateways send, as observed on the wire.
var (
	// Traefik's forwardAuth: GET to the configured address (so Host is authbridge's), the browser's
	// headers minus hop-by-hop ones, and X-Forwarded-Method/-Proto/-Host/-Uri/-For.
	traefik = http.Header{
		"X-Forwarded-Method": {"POST"},
		"X-Forwarded-Proto":  {"https"},
		"X-Forwarded-Host":   {"app.example.test"},
		"X-Forwarded-Uri":    {"/api/items?x=1&y=%2F"},
		"X-Forwarded-For":    {"198.51.100.7"},
		"X-Forwarded-Port":   {"443"},
		"X-Forwarded-Server": {"traefik-7d9f"},
		"X-Real-Ip":          {"198.51.100.7"},
		"Accept":             {"application/json"},
		"Sec-Fetch-Mode":     {"cors"},
		"Cookie":             {"a=1"},
	}
	// Caddy's forward_auth: GET to the uri directive with the browser's Host kept, X-Forwarded-Method
	// and X-Forwarded-Uri from the directive, X-Forwarded-Proto/-Host/-For from reverse_proxy.
	caddy = http.Header{
		"X-Forwarded-Method": {"GET"},
		"X-Forwarded-Uri":    {"/dash?tab=2"},
		"X-Forwarded-Proto":  {"https"},
		"X-Forwarded-Host":   {"app.example.test"},
		"X-Forwarded-For":    {"198.51.100.7"},
		"Accept":             {"text/html,application/xhtml+xml,*/*;q=0.8"},
		"Sec-Fetch-Mode":     {"navigate"},
	}
	// nginx auth_request with the usual proxy_set_header lines (ingress-nginx sends the same pair).
	nginx = http.Header{
		"X-Original-Url":    {"https://app.example.test:8443/dash?tab=2"},
		"X-Original-Method": {"GET"},
		"X-Forwarded-For":   {"198.51.100.7"},
		"Accept":            {"text/html"},
	}
)

// TestForwarded: what each gateway sends, as observed on the wire, is read from its one source. The
// refusals are in TestForwardedRefusals.
func TestForwarded(t *testing.T) {
	tests := []struct {
		name    string
		remote  string
		path    string // the path the gateway sent to authbridge
		host    string // the Host header authbridge received
		front   string
		headers http.Header
		want    authz.Request
	}{
		{"traefik from trusted proxy", proxyV4, PathAuth, "authbridge:4180", authz.FrontForwardAuth, traefik,
			authz.Request{Method: "POST", Scheme: "https", Host: "app.example.test", URI: "/api/items?x=1&y=%2F", Accept: "application/json", FetchMode: "cors", Cookie: "a=1"}},
		{"caddy keeps Host", proxyV4, PathAuth, "app.example.test", authz.FrontForwardAuth, caddy,
			authz.Request{Method: "GET", Scheme: "https", Host: "app.example.test", URI: "/dash?tab=2", Accept: caddy.Get("Accept"), FetchMode: "navigate"}},
		{"nginx X-Original-URL and method", proxyV4, PathNginxAuth, "authbridge", authz.FrontNginx, nginx,
			authz.Request{Method: "GET", Scheme: "https", Host: "app.example.test:8443", URI: "/dash?tab=2", Accept: "text/html"}},
		{"nginx URL without path", proxyV4, PathNginxAuth, "authbridge", authz.FrontNginx,
			http.Header{"X-Original-Url": {"http://app.example.test"}, "X-Original-Method": {"GET"}},
			authz.Request{Method: "GET", Scheme: "http", Host: "app.example.test", URI: "/"}},
		{"nginx with agreeing X-Forwarded-*", proxyV4, PathNginxAuth, "authbridge", authz.FrontNginx,
			with(nginx, "X-Forwarded-Proto", "https", "X-Forwarded-Host", "APP.example.test:8443", "X-Forwarded-Uri", "/dash?tab=2", "X-Forwarded-Method", "GET"),
			authz.Request{Method: "GET", Scheme: "https", Host: "app.example.test:8443", URI: "/dash?tab=2", Accept: "text/html"}},
		{"traefik with agreeing X-Original-*", proxyV4, PathAuth, "authbridge", authz.FrontForwardAuth,
			with(traefik, "X-Original-Url", "https://app.example.test/api/items?x=1&y=%2F", "X-Original-Method", "POST"),
			authz.Request{Method: "POST", Scheme: "https", Host: "app.example.test", URI: "/api/items?x=1&y=%2F", Accept: "application/json", FetchMode: "cors", Cookie: "a=1"}},
		{"traefik from IPv6 proxy", proxyV6, PathAuth, "authbridge", authz.FrontForwardAuth, traefik,
			authz.Request{Method: "POST", Scheme: "https", Host: "app.example.test", URI: "/api/items?x=1&y=%2F", Accept: "application/json", FetchMode: "cors", Cookie: "a=1"}},
		{"traefik from IPv4-mapped proxy", proxyV4in, PathAuth, "authbridge", authz.FrontForwardAuth, traefik,
			authz.Request{Method: "POST", Scheme: "https", Host: "app.example.test", URI: "/api/items?x=1&y=%2F", Accept: "application/json", FetchMode: "cors", Cookie: "a=1"}},
		{"traefik websocket handshake says wss", proxyV4, PathAuth, "authbridge", authz.FrontForwardAuth,
			with(traefik, "X-Forwarded-Proto", "wss", "X-Forwarded-Method", "GET"),
			authz.Request{Method: "GET", Scheme: "https", Host: "app.example.test", URI: "/api/items?x=1&y=%2F", Accept: "application/json", FetchMode: "cors", Cookie: "a=1"}},
		{"proto in upper case", proxyV4, PathAuth, "authbridge", authz.FrontForwardAuth, with(caddy, "X-Forwarded-Proto", "HTTPS"),
			authz.Request{Method: "GET", Scheme: "https", Host: "app.example.test", URI: "/dash?tab=2", Accept: caddy.Get("Accept"), FetchMode: "navigate"}},
		{"commas in the uri are data", proxyV4, PathAuth, "authbridge", authz.FrontForwardAuth, with(caddy, "X-Forwarded-Uri", "/a,b?ids=1,2"),
			authz.Request{Method: "GET", Scheme: "https", Host: "app.example.test", URI: "/a,b?ids=1,2", Accept: caddy.Get("Accept"), FetchMode: "navigate"}},
		{"X_Forwarded_Uri is another header, never read", proxyV4, PathAuth, "authbridge", authz.FrontForwardAuth, with(caddy, "X_forwarded_uri", "/spoofed"),
			authz.Request{Method: "GET", Scheme: "https", Host: "app.example.test", URI: "/dash?tab=2", Accept: caddy.Get("Accept"), FetchMode: "navigate"}},
		{"cookie headers joined", proxyV4, PathAuth, "authbridge", authz.FrontForwardAuth, with(caddy, "Cookie", "a=1", "Cookie", "b=2"),
			authz.Request{Method: "GET", Scheme: "https", Host: "app.example.test", URI: "/dash?tab=2", Accept: caddy.Get("Accept"), FetchMode: "navigate", Cookie: "a=1; b=2"}},
	}
	h := NewGateway(nil, Options{TrustedProxies: trusted})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tt.path, nil)
			r.RemoteAddr, r.Host = tt.remote, tt.host
			for k, vs := range tt.headers {
				r.Header[k] = vs
			}
			want := tt.want
			want.Front = tt.front
			got, err := h.forwarded(r, tt.front)
			require.NoError(t, err)
			got.Client = "" // TestClientAddress covers it
			require.Equal(t, &want, got)
		})
	}
}

// with returns a copy of h with each key (canonical) of kv set to the value after it; a key given twice
// gets both values, as two header lines do.
func with(h http.Header, kv ...string) http.Header {
	out := h.Clone()
	seen := map[string]bool{}
	for i := 0; i+1 < len(kv); i += 2 {
		k := http.CanonicalHeaderKey(kv[i])
		if !seen[k] {
			delete(out, k)
			seen[k] = true
		}
		out[k] = append(out[k], kv[i+1])
	}
	return out
}

func TestDirect(t *testing.T) {
	tests := []struct {
		name    string
		remote  string
		tls     bool
		headers http.Header
		wantSch string
		wantHst string
	}{
		{"plain from client", clientV4, false, nil, "http", "authbridge:4180"},
		{"TLS from client", clientV4, true, nil, "https", "authbridge:4180"},
		{"client cannot claim https or a host", clientV4, false, http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"evil.test"}}, "http", "authbridge:4180"},
		{"client on TLS cannot downgrade", clientV4, true, http.Header{"X-Forwarded-Proto": {"http"}}, "https", "authbridge:4180"},
		{"proxy says https and host", proxyV4, false, http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"app.example.test"}}, "https", "app.example.test"},
		{"IPv6 proxy", proxyV6, false, http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"app.example.test"}}, "https", "app.example.test"},
		{"proxy says HTTPS", proxyV4, false, http.Header{"X-Forwarded-Proto": {"HTTPS"}}, "https", "authbridge:4180"},
		{"untrusted client's bad proto is not even read", clientV4, false, http.Header{"X-Forwarded-Proto": {"javascript"}, "X-Forwarded-Host": {"a, b"}}, "http", "authbridge:4180"},
		{"X-Original-URL is not read on /oauth2/*", proxyV4, false, http.Header{"X-Original-Url": {"https://evil.test/x"}}, "http", "authbridge:4180"},
	}
	h := NewBrowser(nil, Options{TrustedProxies: trusted})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/oauth2/start?rd=%2Fx", nil)
			r.RemoteAddr, r.Host = tt.remote, "authbridge:4180"
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			for k, vs := range tt.headers {
				r.Header[k] = vs
			}
			got, err := h.direct(r)
			require.NoError(t, err)
			got.Client = "" // TestClientAddress covers it
			require.Equal(t, &authz.Request{Front: authz.FrontHTTP, Method: "GET", Scheme: tt.wantSch, Host: tt.wantHst, URI: "/oauth2/start?rd=%2Fx"}, got)
		})
	}
}

// TestClientAddress: the address that bounds logins per client is the peer itself, or, from a trusted
// proxy, the last X-Forwarded-For entry (the one that proxy added); a client cannot pick it.
func TestClientAddress(t *testing.T) {
	h := NewBrowser(nil, Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}})
	tests := []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"direct client", clientV4, nil, "203.0.113.9"},
		{"direct client's own X-Forwarded-For is ignored", clientV4, []string{"198.51.100.1"}, "203.0.113.9"},
		{"trusted proxy: the entry it appended", proxyV4, []string{"198.51.100.1, 192.0.2.7"}, "192.0.2.7"},
		{"trusted proxy: last of several headers", proxyV4, []string{"198.51.100.1", "192.0.2.8"}, "192.0.2.8"},
		{"trusted proxy without the header: the proxy", proxyV4, nil, "10.0.0.2"},
		{"IPv6 proxy", proxyV6, []string{"2001:db8::77"}, "2001:db8::77"},
		{"IPv4-mapped peer", "[::ffff:203.0.113.9]:1", nil, "203.0.113.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/oauth2/start", nil)
			r.RemoteAddr = tt.remote
			r.Header["X-Forwarded-For"] = tt.xff
			got, err := h.direct(r)
			require.NoError(t, err)
			require.Equal(t, tt.want, got.Client)
		})
	}
}
