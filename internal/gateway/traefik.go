package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultAuthResponseHeaders are the headers a ForwardAuth copies from an allowing auth response to the
// upstream request: authbridge's identity headers, as its Traefik guide lists in authResponseHeaders.
var DefaultAuthResponseHeaders = []string{"Authorization", "X-Auth-Request-User", "X-Auth-Request-Email"}

// ForwardAuthOptions configure a ForwardAuth gateway.
type ForwardAuthOptions struct {
	Address  string   // the forward-auth URL, e.g. http://127.0.0.1:4180/auth; required
	Upstream *url.URL // where allowed requests go; required
	// AuthResponseHeaders are copied from a 2xx auth response to the upstream request, replacing what
	// the client sent; default DefaultAuthResponseHeaders.
	AuthResponseHeaders []string
	Client              *http.Client // default: 30s timeout, redirects not followed (as Traefik)
	Logger              *slog.Logger // default discards
}

// ForwardAuth is an HTTP gateway with Traefik's forwardAuth middleware (trustForwardHeader: false) in
// front of one upstream. For every request it asks Address with a GET that carries the client's
// headers and X-Forwarded-Method/Proto/Host/Uri/For. A 2xx answer lets the request through with
// AuthResponseHeaders copied onto it; any other answer goes back to the client as it is, status,
// headers (Set-Cookie and Location included) and body.
type ForwardAuth struct {
	o      ForwardAuthOptions
	log    *slog.Logger
	client *http.Client
	proxy  http.Handler
}

var _ http.Handler = (*ForwardAuth)(nil)

// NewForwardAuth returns a ForwardAuth gateway.
func NewForwardAuth(o ForwardAuthOptions) (*ForwardAuth, error) {
	if o.Address == "" || o.Upstream == nil {
		return nil, errors.New("gateway: address and upstream are required")
	}
	if _, err := url.Parse(o.Address); err != nil {
		return nil, fmt.Errorf("parse forward-auth address: %w", err)
	}
	if o.AuthResponseHeaders == nil {
		o.AuthResponseHeaders = DefaultAuthResponseHeaders
	}
	client := o.Client
	if client == nil {
		client = &http.Client{
			Timeout:       30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	log := orDiscard(o.Logger)
	return &ForwardAuth{o: o, log: log, client: client, proxy: newProxy(o.Upstream, log, nil)}, nil
}

// entryPointHeaders makes the edits Traefik's entry point makes to a request from a client it does not
// trust, before any middleware: the client's X-Forwarded-* and X-Real-Ip are dropped, and
// X-Forwarded-Proto, -Host, -Port and X-Real-Ip are set from the connection. X-Forwarded-For is
// added when the request is proxied.
func entryPointHeaders(r *http.Request) {
	h := r.Header
	for k := range h {
		if strings.HasPrefix(k, "X-Forwarded-") || k == "X-Real-Ip" || k == "Forwarded" {
			delete(h, k)
		}
	}
	scheme := schemeOf(r)
	h.Set("X-Forwarded-Proto", scheme)
	h.Set("X-Forwarded-Host", r.Host)
	port := "80"
	if scheme == "https" {
		port = "443"
	}
	if _, p, err := net.SplitHostPort(r.Host); err == nil && p != "" {
		port = p
	}
	h.Set("X-Forwarded-Port", port)
	if ip := remoteAddr(r).Addr(); ip.IsValid() {
		h.Set("X-Real-Ip", ip.String())
	}
}

// forwardAuthRequest builds the request Traefik's forwardAuth middleware sends to address for r: a GET
// without body carrying r's headers minus the connection-specific ones, with X-Forwarded-For set to
// the client's address and X-Forwarded-Method, -Proto, -Host and -Uri describing r.
func forwardAuthRequest(ctx context.Context, r *http.Request, address string) (*http.Request, error) {
	fr, err := http.NewRequestWithContext(ctx, http.MethodGet, address, nil)
	if err != nil {
		return nil, fmt.Errorf("build forward-auth request: %w", err)
	}
	fr.Header = r.Header.Clone()
	removeHopByHop(fr.Header)
	if ip := remoteAddr(r).Addr(); ip.IsValid() {
		fr.Header.Set("X-Forwarded-For", ip.String())
	}
	fr.Header.Set("X-Forwarded-Method", r.Method)
	fr.Header.Set("X-Forwarded-Proto", schemeOf(r))
	fr.Header.Set("X-Forwarded-Host", r.Host)
	fr.Header.Set("X-Forwarded-Uri", r.URL.RequestURI())
	return fr, nil
}

// ServeHTTP asks the auth service about one request and proxies or answers it.
func (f *ForwardAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	entryPointHeaders(r)
	fr, err := forwardAuthRequest(r.Context(), r, f.o.Address)
	if err != nil {
		f.log.Error("forward auth", "err", err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	resp, err := f.client.Do(fr)
	if err != nil {
		f.log.Warn("forward-auth service unreachable", "err", err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		f.log.Warn("read forward-auth response", "err", err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		f.deny(w, resp, body)
		return
	}
	for _, name := range f.o.AuthResponseHeaders {
		k := http.CanonicalHeaderKey(name)
		r.Header.Del(k)
		if vs := resp.Header[k]; len(vs) > 0 {
			r.Header[k] = append([]string(nil), vs...)
		}
	}
	if ip := remoteAddr(r).Addr(); ip.IsValid() {
		appendForwardedFor(r.Header, ip.String()) // Traefik's proxy adds the client as the nearest hop
	}
	f.proxy.ServeHTTP(w, r)
}

// deny passes a non-2xx auth response to the client. Like Traefik, it resolves Location against the
// auth service's URL.
func (f *ForwardAuth) deny(w http.ResponseWriter, resp *http.Response, body []byte) {
	h := w.Header()
	for k, vs := range resp.Header {
		h[k] = append([]string(nil), vs...)
	}
	removeHopByHop(h)
	h.Del("Content-Length")
	loc, err := resp.Location()
	switch {
	case err == nil:
		h.Set("Location", loc.String())
	case !errors.Is(err, http.ErrNoLocation):
		f.log.Warn("forward-auth response has a bad location", "err", err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
}
