// Package gateway holds two small HTTP gateways that consult authbridge the way real proxies do: Envoy
// through the ext_authz gRPC API, and Traefik through forward-auth. The demo puts them in front of its
// upstream, and the end-to-end tests the Envoy one, which cannot run here (they run the real Traefik).
package gateway

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"
)

// hopByHop are the connection-specific headers a proxy never forwards (RFC 9110 §7.6.1), in canonical
// form. Headers named by Connection are removed too.
var hopByHop = []string{
	"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// removeHopByHop deletes the connection-specific headers from h, and those that Connection names.
func removeHopByHop(h http.Header) {
	for _, v := range h.Values("Connection") {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, k := range hopByHop {
		h.Del(k)
	}
}

// newProxy returns a reverse proxy to upstream that keeps the client's Host (Envoy's default, Traefik's
// passHostHeader) and passes on the X-Forwarded-* headers the gateway itself set. edits, when set,
// changes each upstream response before it goes to the client.
func newProxy(upstream *url.URL, log *slog.Logger, edits func(*http.Response)) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(upstream)
			pr.Out.Host = pr.In.Host
			// ReverseProxy strips these before Rewrite so that a client cannot spoof them; here the
			// gateway set them itself from the connection, as Envoy's and Traefik's entry points do.
			for _, k := range []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
				if vs := pr.In.Header.Values(k); len(vs) > 0 {
					pr.Out.Header[k] = append([]string(nil), vs...)
				}
			}
		},
		ModifyResponse: func(resp *http.Response) error {
			if edits != nil {
				edits(resp)
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			log.Warn("upstream unreachable", "host", r.Host, "err", err)
			http.Error(w, "upstream unavailable", http.StatusBadGateway)
		},
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// schemeOf is the scheme the client used to reach the gateway.
func schemeOf(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// remoteAddr parses the client's address; the zero AddrPort if it is not ip:port.
func remoteAddr(r *http.Request) netip.AddrPort {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// localAddr is the gateway's own address for the connection r arrived on, if the server recorded it.
func localAddr(r *http.Request) netip.AddrPort {
	a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return netip.AddrPort{}
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// appendForwardedFor appends ip to X-Forwarded-For as the nearest hop.
func appendForwardedFor(h http.Header, ip string) {
	if prior := h.Values("X-Forwarded-For"); len(prior) > 0 {
		ip = strings.Join(prior, ", ") + ", " + ip
	}
	h.Set("X-Forwarded-For", ip)
}

func orDiscard(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return log
}
