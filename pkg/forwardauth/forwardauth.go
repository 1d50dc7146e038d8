// Package forwardauth is the HTTP front. It serves two listeners that must never be confused: the
// gateway-only one (forward-auth /auth for Traefik and Caddy, /oauth2/auth for nginx auth_request),
// whose allowed answers carry the access token, and the browser-facing one (/oauth2/start,
// /oauth2/callback, /oauth2/sign_out, /oauth2/backchannel_logout, /oauth2/userinfo), which never answers
// with a token.
package forwardauth

import (
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/authbridge/authbridge/pkg/authz"
)

// Paths the handlers serve.
const (
	PathAuth        = "/auth"        // gateway listener: Traefik and Caddy forward-auth
	PathNginxAuth   = "/oauth2/auth" // gateway listener: nginx auth_request
	PathBackchannel = "/oauth2/backchannel_logout"
)

// Options configure a Handler.
type Options struct {
	// TrustedProxies are the peers whose X-Forwarded-* and X-Original-* headers are believed. The
	// gateway-only listener answers nobody else (403); on the browser-facing one, another peer's
	// X-Forwarded-* headers are ignored and the request is taken as it arrived.
	TrustedProxies []netip.Prefix
	Logger         *slog.Logger
}

// Handler serves one of the two HTTP listeners; see NewGateway and NewBrowser.
type Handler struct {
	engine  *authz.Engine
	trusted []netip.Prefix
	log     *slog.Logger
	gateway bool // serves the token-bearing endpoints, and nothing else
}

var _ http.Handler = (*Handler)(nil)

// NewGateway returns the handler of the gateway-only listener: /auth and /oauth2/auth, whose allowed
// answers carry Authorization: Bearer <access token>. Nothing else is served there, and it must be
// reachable only by gateways.
func NewGateway(engine *authz.Engine, o Options) *Handler {
	h := newHandler(engine, o)
	h.gateway = true
	return h
}

// NewBrowser returns the handler of the browser-facing listener: login start, callback, sign-out,
// back-channel logout and userinfo. It never answers with a token, whatever the path: the token-bearing endpoints
// are not served here at all, so routing this listener to browsers is safe by construction.
func NewBrowser(engine *authz.Engine, o Options) *Handler { return newHandler(engine, o) }

func newHandler(engine *authz.Engine, o Options) *Handler {
	h := &Handler{engine: engine, trusted: o.TrustedProxies, log: o.Logger}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return h
}

// ServeHTTP routes by path; anything else is 404.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if authz.IsOAuth2Path(r.URL.Path) {
		// Every answer from /oauth2/*, whoever makes it (the engine, a 404, a 503), is private.
		authz.SetOAuth2Headers(w.Header())
	}
	if h.gateway {
		front := authz.FrontForwardAuth
		switch r.URL.Path {
		case PathNginxAuth:
			front = authz.FrontNginx
			fallthrough
		case PathAuth:
			req, err := h.forwarded(r, front)
			if err != nil {
				h.refuse(w, r, front, err)
				return
			}
			req.NoRedirect = front == authz.FrontNginx
			if req.Route, err = routeParam(r, req.URI); err != nil {
				h.refuse(w, r, front, err)
				return
			}
			h.serve(w, r, req)
		default:
			http.NotFound(w, r)
		}
		return
	}
	switch r.URL.Path {
	case authz.PathStart, authz.PathCallback, authz.PathSignOut:
		req, err := h.direct(r)
		if err != nil {
			h.refuse(w, r, authz.FrontHTTP, err)
			return
		}
		h.serve(w, r, req)
	case PathBackchannel:
		h.backchannel(w, r)
	case authz.PathUserInfo:
		h.userInfo(w, r)
	case PathAuth, PathNginxAuth:
		// Someone pointed a gateway at the wrong port. Say so to the operator; the answer holds no
		// token either way.
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "not found: "+r.URL.Path+" is served on the gateway-only forward-auth listener (listen.forward_auth, default :4181), not on this browser-facing one", http.StatusNotFound)
	default:
		http.NotFound(w, r)
	}
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, req *authz.Request) {
	d, err := h.engine.Decide(r.Context(), req)
	if err != nil {
		// Fail closed, and leave every cookie alone: the session may be fine once the store is back.
		w.Header().Set("Cache-Control", "no-store")
		if authz.IsOAuth2Path(req.URI) {
			authz.SetOAuth2Headers(w.Header())
		}
		http.Error(w, "authentication is temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	render(w, d, req, h.engine)
}

// routeParam is the policy route the gateway names in the query of its request to this listener
// (/auth?route=admin): the address is in the gateway's config, so the client cannot change it — as long
// as the gateway does not pass the client's own query on. Caddy's forward_auth does exactly that when
// its uri has no query of its own, so the query is held to what a gateway's address can hold: route and
// nothing else, at most once, and not the very query of the client's request (uri is the described
// request's URI). Anything else is a 400, never a route picked from the client's URL. An empty value
// names no route.
func routeParam(r *http.Request, uri string) (string, error) {
	raw := r.URL.RawQuery
	if raw == "" && !r.URL.ForceQuery {
		return "", nil
	}
	if _, clientQuery, ok := strings.Cut(uri, "?"); ok && clientQuery == raw {
		return "", authz.BadRequest("the forward-auth request carries the client's query; give the gateway's auth address a query of its own (e.g. /auth?route=)")
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return "", authz.BadRequest("the forward-auth request's query is malformed")
	}
	for k, vs := range q {
		if k != "route" {
			return "", authz.BadRequest("the forward-auth request's query holds more than route=")
		}
		if len(vs) > 1 {
			return "", authz.BadRequest("route= appears more than once")
		}
	}
	return q.Get("route"), nil
}

// refuse answers a request that the engine is never asked about: 403 to a peer outside trusted_proxies on
// the gateway-only listener, 400 to a request description that is ambiguous or malformed
// (authz.ErrBadRequest). The body is short plain text naming the reason, never a header's value; no
// cookie is set or cleared and no login starts. Behind nginx's auth_request, which understands only 2xx,
// 401 and 403, the 400 becomes a 500 for the client: it still fails closed and starts no login.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, front string, err error) {
	status, body, why := http.StatusBadRequest, "bad request\n", authz.RefusedBadRequest
	var re *authz.RequestError
	switch {
	case errors.Is(err, errUntrusted):
		status, body, why = http.StatusForbidden, "forbidden: this listener answers trusted gateways only\n", authz.RefusedUntrusted
		h.log.Warn("request refused: peer is not in trusted_proxies", "front", front, "peer", r.RemoteAddr)
	case errors.As(err, &re):
		body = "bad request: " + re.Reason + "\n"
		h.log.Warn("request refused", "front", front, "reason", re.Reason, "peer", r.RemoteAddr)
	default:
		h.log.Warn("request refused", "front", front, "err", err, "peer", r.RemoteAddr)
	}
	h.engine.Refused(front, why)
	hdr := w.Header()
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	hdr.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// render writes a decision. A gateway that cannot pass a redirect on (nginx's auth_request understands
// only 2xx, 401 and 403) never gets one from the engine (nginx's error_page sends the browser to
// /oauth2/start on 401). A 400 (a request the policy cannot place) and a 5xx (a route name the
// configuration lacks) stay as they are, and nginx answers the client 500: a 401 would send the browser
// to log in and back to the same refusal, again and again. Any other denial becomes 401.
func render(w http.ResponseWriter, d *authz.Decision, req *authz.Request, e *authz.Engine) {
	hdr := w.Header()
	for _, c := range d.Cookies {
		hdr.Add("Set-Cookie", c.String())
	}
	switch d.Outcome {
	case authz.Allow:
		// Every identity header is sent, even empty, so a proxy that copies only present headers
		// cannot let the client's own copy through.
		for _, k := range identityHeaders {
			if v := d.Upstream[k]; len(v) > 0 {
				hdr[k] = v
			} else {
				hdr[k] = emptyValue
			}
		}
		// A route's own headers (authz.Route.Headers): always present, empty when the claim has no values.
		if len(d.Upstream) > len(identityHeaders) {
			for k, v := range d.Upstream {
				if len(v) > 0 {
					hdr[k] = v
				}
			}
		}
		// The Cookie header the upstream should get, without authbridge's own cookies, always sent so
		// that a gateway that replaces the request's Cookie with it (Traefik authResponseHeaders, nginx
		// auth_request_set) never drops or passes the session cookie by accident.
		kept, _ := e.UpstreamCookie(req.Cookie)
		hdr[authz.HeaderCookie] = []string{kept}
		w.WriteHeader(http.StatusOK)
		return
	case authz.Redirect:
		// Never for noRedirect: the engine answers those 401 instead of starting a login.
		for k, vs := range d.Header {
			hdr[k] = vs
		}
		hdr.Set("Location", d.Location)
		w.WriteHeader(d.Status)
		return
	}
	for k, vs := range d.Header {
		hdr[k] = vs
	}
	status := d.Status
	if req.NoRedirect && status != http.StatusUnauthorized && status != http.StatusForbidden &&
		status != http.StatusBadRequest && status < http.StatusInternalServerError {
		status = http.StatusUnauthorized
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(d.Body))
}

// backchannel answers OIDC Back-Channel Logout 1.0 (section 2.8): a form POST with logout_token; 200 when
// done, 400 with an OAuth error body when the token is refused, 503 when the store cannot answer.
func (h *Handler) backchannel(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	token := r.PostFormValue("logout_token")
	if token == "" {
		writeJSONError(w, http.StatusBadRequest, "invalid_request", "logout_token is missing")
		return
	}
	if _, err := h.engine.BackchannelLogout(r.Context(), token); err != nil {
		if errors.Is(err, authz.ErrLogoutToken) {
			writeJSONError(w, http.StatusBadRequest, "invalid_request", "logout token refused")
			return
		}
		http.Error(w, "logout is temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func writeJSONError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"error":"` + code + `","error_description":"` + desc + `"}` + "\n"))
}

// identityHeaders and emptyValue are shared read-only, so an allowed answer allocates no header slices.
var (
	identityHeaders = authz.IdentityHeaders()
	emptyValue      = []string{""}
)
