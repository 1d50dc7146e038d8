package authz

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// oauthErrors are the error codes an authorization response may carry (RFC 6749 4.1.2.1, OIDC Core
// 3.1.2.6). Only these are ever logged or shown; anything else is "other".
var oauthErrors = []string{
	"invalid_request", "unauthorized_client", "access_denied", "unsupported_response_type", "invalid_scope",
	"server_error", "temporarily_unavailable", "interaction_required", "login_required",
	"account_selection_required", "consent_required", "invalid_request_uri", "invalid_request_object",
	"request_not_supported", "request_uri_not_supported", "registration_not_supported",
}

// callbackParams parses the callback's query strictly: a malformed query, a repeated code, state, iss or
// error, both error and code, an iss (RFC 9207) that is not exactly the issuer, or no iss from a provider
// whose discovery promises one are all refused, with a short reason for the log. Nothing has been looked
// up or exchanged yet.
func (e *Engine) callbackParams(uri string) (url.Values, string) {
	_, raw, _ := strings.Cut(uri, "?")
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, "malformed callback query"
	}
	for _, k := range [...]string{"code", "state", "iss", "error"} {
		if len(q[k]) > 1 {
			return nil, "repeated " + k + " parameter"
		}
	}
	if q.Has("error") && q.Has("code") {
		return nil, "both error and code"
	}
	iss, ok := q["iss"]
	switch {
	case ok && iss[0] != e.o.Provider.Issuer():
		// Another provider's answer (a mix-up attack), or this one's spelled differently: both refused.
		return nil, "iss parameter is not the issuer"
	case !ok && e.o.Provider.IssParameterRequired():
		return nil, "iss parameter missing"
	}
	return q, ""
}

// providerError answers a callback that carries the provider's error (the user denied consent, the login
// was cancelled). The pending login it names, if this browser holds it, is consumed: its cookie cleared
// and its state marked used, so that no later callback can finish it. Only a known error code is logged
// or shown, never the provider's description.
func (e *Engine) providerError(ctx context.Context, r *Request, q url.Values) (*Decision, error) {
	code := "other"
	for _, c := range oauthErrors {
		if q.Get("error") == c {
			code = c
		}
	}
	d := deny(http.StatusForbidden, "login was refused by the identity provider ("+code+")\n",
		"text/plain; charset=utf-8", "provider error")
	if state := q.Get("state"); state != "" {
		if p, err := e.takePending(r.Cookie, state); err == nil {
			now := e.now()
			if !e.loginExpired(p, now) {
				if _, err := e.o.Sessions.Once(ctx, "login", state, max(p.Created.Add(e.o.Lifetimes.Login).Sub(now), time.Second)); err != nil {
					return nil, err
				}
			}
			d = withCookie(d, e.cookie(e.pendingName(state), "", -1))
		}
	}
	e.log.Info("provider returned an error to the callback", "error", code, "host", r.Host, "client", r.Client)
	return d, nil
}

// badCallback refuses a callback whose parameters are malformed or ambiguous (see callbackParams).
func badCallback(reason string) *Decision {
	return deny(http.StatusBadRequest, "this login response is not valid; please reload the page you came from\n",
		"text/plain; charset=utf-8", reason)
}

// badHost refuses a login or sign-out on a request whose scheme and host do not make an origin that a
// browser could be sent back to.
func badHost() *Decision {
	return deny(http.StatusBadRequest, "Bad Request\n", "text/plain; charset=utf-8", "request host is not a valid origin")
}

// home is the root of the request's own origin: where a missing or refused return URL lands. It is
// absolute, because a gateway may resolve a relative Location against authbridge's own address (Traefik
// does). Empty when the request's scheme and host do not make a valid origin.
func (e *Engine) home(r *Request) string { return e.o.Redirects.Clean("/", origin(r)) }

// oauth2Headers are set on every answer about an /oauth2/ path: such answers carry login state, codes in
// their URL or personal data, and must be neither cached, nor leaked in a Referer, nor sniffed.
var oauth2Headers = [...][2]string{
	{"Cache-Control", "no-store"},
	{"Referrer-Policy", "no-referrer"},
	{"X-Content-Type-Options", "nosniff"},
}

// IsOAuth2Path reports whether uri (a path, with or without query) is under /oauth2/.
func IsOAuth2Path(uri string) bool { return strings.HasPrefix(uri, "/oauth2/") }

// SetOAuth2Headers sets Cache-Control: no-store, Referrer-Policy: no-referrer and
// X-Content-Type-Options: nosniff on h, the headers every answer about an /oauth2/ path carries. The
// engine puts them in the Decision.Header of such decisions; fronts use this for the answers they make
// themselves (503, 404).
//
// A Referrer-Policy the decision already has is kept: the sign-out confirmation page sets same-origin,
// which leaks nothing across sites and lets its own POST carry the Origin that vouches for it.
func SetOAuth2Headers(h http.Header) {
	for _, kv := range oauth2Headers {
		if kv[0] == "Referrer-Policy" && h.Get(kv[0]) != "" {
			continue
		}
		h.Set(kv[0], kv[1])
	}
}
