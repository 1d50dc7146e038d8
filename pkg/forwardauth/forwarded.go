package forwardauth

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/authbridge/authbridge/pkg/authz"
)

// errUntrusted refuses a peer outside trusted_proxies on the gateway-only listener: its answers carry
// the access token, and only a gateway can describe the request it asks about.
var errUntrusted = errors.New("forwardauth: peer is not a trusted proxy")

// The headers that describe the client's request, in canonical spelling (http.Header's keys).
const (
	hdrMethod        = "X-Forwarded-Method"
	hdrProto         = "X-Forwarded-Proto"
	hdrHost          = "X-Forwarded-Host"
	hdrURI           = "X-Forwarded-Uri"
	hdrOriginalURL   = "X-Original-Url"
	hdrOriginalMtd   = "X-Original-Method"
	hdrAuthorization = "Authorization"
)

// target is one source's description of the client's request; empty fields were not given.
type target struct{ method, scheme, host, uri string }

// forwarded builds the engine request for a forward-auth subrequest from a trusted gateway. The client's
// request is described by exactly one source per mode: X-Original-URL and X-Original-Method for nginx
// (set by nginx itself on the auth_request subrequest), X-Forwarded-Method, -Proto, -Host and -Uri for
// Traefik and Caddy. Every field is required from that source; the other mode's headers, which a client
// can add (nginx and Traefik pass the client's headers on), must agree with it where present. A header
// given twice, a list where one value belongs, a disagreement or a malformed value is a
// *authz.RequestError; a peer outside trusted_proxies is errUntrusted.
func (h *Handler) forwarded(r *http.Request, front string) (*authz.Request, error) {
	trusted := h.trustedPeer(r)
	if !trusted {
		return nil, errUntrusted
	}
	fwd, err := forwardedTarget(r.Header)
	if err != nil {
		return nil, err
	}
	orig, err := originalTarget(r.Header)
	if err != nil {
		return nil, err
	}
	var t target
	if front == authz.FrontNginx {
		t, err = pick(orig, fwd, originalNames, forwardedNames)
	} else {
		t, err = pick(fwd, orig, forwardedNames, originalNames)
	}
	if err != nil {
		return nil, err
	}
	req, err := base(r, trusted)
	if err != nil {
		return nil, err
	}
	req.Front = front
	req.Method, req.Scheme, req.Host, req.URI = t.method, t.scheme, t.host, t.uri
	if err := authz.CheckTarget(req); err != nil {
		return nil, err
	}
	return req, nil
}

// Which header each field of a target comes from, for the reasons of refusals.
var (
	forwardedNames = [4]string{hdrMethod, hdrProto, hdrHost, hdrURI}
	originalNames  = [4]string{"X-Original-Method", "X-Original-URL", "X-Original-URL", "X-Original-URL"}
)

// pick returns src's target when it has every field, and when the other source, wherever it says
// anything, says the same (hosts compared without ASCII case).
func pick(src, other target, names, otherNames [4]string) (target, error) {
	s := [4]string{src.method, src.scheme, src.host, src.uri}
	o := [4]string{other.method, other.scheme, other.host, other.uri}
	for i := range s {
		if s[i] == "" {
			return target{}, authz.BadRequest(names[i] + " is missing")
		}
	}
	for i := range s {
		if o[i] != "" && o[i] != s[i] && !(i == 2 && strings.EqualFold(o[i], s[i])) {
			return target{}, authz.BadRequest(otherNames[i] + " disagrees with " + names[i])
		}
	}
	return src, nil
}

// forwardedTarget reads X-Forwarded-Method, -Proto, -Host and -Uri. A comma in a URI is data (RFC
// 3986 sub-delims, "?ids=1,2"); in the others it makes a list, which is refused.
func forwardedTarget(h http.Header) (target, error) {
	var t target
	var err error
	if t.method, err = one(h, hdrMethod, false); err != nil {
		return t, err
	}
	if t.host, err = one(h, hdrHost, false); err != nil {
		return t, err
	}
	if t.uri, err = one(h, hdrURI, true); err != nil {
		return t, err
	}
	proto, err := one(h, hdrProto, false)
	if err != nil || proto == "" {
		return t, err
	}
	var ok bool
	if t.scheme, ok = authz.Scheme(proto); !ok {
		return t, authz.BadRequest(hdrProto + " is not http or https")
	}
	return t, nil
}

// originalTarget reads X-Original-Method and X-Original-URL, the absolute URL nginx builds from
// $scheme://$http_host$request_uri.
func originalTarget(h http.Header) (target, error) {
	var t target
	var err error
	if t.method, err = one(h, hdrOriginalMtd, false); err != nil {
		return t, err
	}
	u, err := one(h, hdrOriginalURL, true)
	if err != nil || u == "" {
		return t, err
	}
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok || (!strings.EqualFold(scheme, "http") && !strings.EqualFold(scheme, "https")) {
		return t, authz.BadRequest("X-Original-URL is not an absolute http(s) URL")
	}
	t.scheme = strings.ToLower(scheme)
	t.host, t.uri = rest, "/"
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		t.host, t.uri = rest[:i], rest[i:]
	}
	if t.host == "" {
		return t, authz.BadRequest("X-Original-URL has no host")
	}
	return t, nil
}

// one returns the single value of header k, "" when it is absent or empty. A header given more than
// once is refused (Go keeps each line, whatever the spelling of the name), and so is a comma-separated
// list unless commaOK.
func one(h http.Header, k string, commaOK bool) (string, error) {
	vs := h[k]
	switch {
	case len(vs) == 0:
		return "", nil
	case len(vs) > 1:
		return "", authz.BadRequest(k + " appears more than once")
	case !commaOK && strings.IndexByte(vs[0], ',') >= 0:
		return "", authz.BadRequest(k + " holds a list")
	}
	return vs[0], nil
}

// direct builds the engine request for a request the browser sent to authbridge itself, through a
// proxy that may say which scheme and host the browser used: X-Forwarded-Proto and -Host, believed
// only from a trusted proxy and then held to the same rules (once, one value, well-formed).
func (h *Handler) direct(r *http.Request) (*authz.Request, error) {
	trusted := h.trustedPeer(r)
	req, err := base(r, trusted)
	if err != nil {
		return nil, err
	}
	req.Front = authz.FrontHTTP
	req.Method, req.Scheme, req.Host, req.URI = r.Method, "http", r.Host, r.URL.RequestURI()
	if r.TLS != nil {
		req.Scheme = "https"
	}
	if trusted {
		proto, err := one(r.Header, hdrProto, false)
		if err != nil {
			return nil, err
		}
		if proto != "" {
			s, ok := authz.Scheme(proto)
			if !ok {
				return nil, authz.BadRequest(hdrProto + " is not http or https")
			}
			req.Scheme = s
		}
		host, err := one(r.Header, hdrHost, false)
		if err != nil {
			return nil, err
		}
		if host != "" {
			req.Host = host
		}
	}
	if err := authz.CheckTarget(req); err != nil {
		return nil, err
	}
	return req, nil
}

// base fills what every engine request carries besides its target: the client's Accept, fetch metadata,
// Origin, Referer, cookies and Authorization, and its address. Authorization given twice is refused
// (which of two credentials would the upstream read?); a comma in it is data (auth-params).
func base(r *http.Request, trusted bool) (*authz.Request, error) {
	req := &authz.Request{
		Accept: r.Header.Get("Accept"), // only ranks navigation against script; a list is its own syntax
		Cookie: strings.Join(r.Header.Values("Cookie"), "; "),
	}
	// The headers a decision rests on (the credential; what vouches for a sign-out) come once or not at
	// all: two copies are never resolved by taking the first.
	for _, f := range []struct {
		dst     *string
		name    string
		commaOK bool
	}{
		{&req.Authorization, hdrAuthorization, true},
		{&req.FetchMode, "Sec-Fetch-Mode", false},
		{&req.FetchSite, "Sec-Fetch-Site", false},
		{&req.Origin, "Origin", false},
		{&req.Referer, "Referer", true},
	} {
		v, err := one(r.Header, f.name, f.commaOK)
		if err != nil {
			return nil, err
		}
		*f.dst = v
	}
	// The peer's host, as a substring of RemoteAddr: no allocation on the hot path.
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		req.Client = strings.TrimPrefix(host, "::ffff:")
	} else {
		req.Client = r.RemoteAddr
	}
	if trusted {
		// The last X-Forwarded-For entry is the one the trusted proxy added itself: the client it saw.
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			last := xff[len(xff)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if v := strings.TrimSpace(last); v != "" {
				req.Client = v
			}
		}
	}
	return req, nil
}

// trustedPeer reports whether the connection comes from a configured proxy.
func (h *Handler) trustedPeer(r *http.Request) bool {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := ap.Addr().Unmap()
	for _, p := range h.trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
