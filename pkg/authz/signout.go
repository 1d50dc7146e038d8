package authz

import (
	"html"
	"net/http"
	"net/url"
	"strings"
)

// maxSignOutSessions bounds the sessions one sign-out deletes when the request carries several session
// cookies (a tossed one next to the user's): all of them end, up to this many store deletes.
const maxSignOutSessions = 4

// signOutGate lets a sign-out through only when the user asked for it: a GET or POST that the browser
// says comes from this site or from the user (ownSite). Anything else ends no session: a GET or HEAD
// from elsewhere gets a page that asks to confirm with a POST form, a POST from elsewhere is refused,
// and other methods get 405. It returns nil when the sign-out may go ahead.
func (e *Engine) signOutGate(r *Request) *Decision {
	switch r.Method {
	case http.MethodGet, http.MethodPost:
		if e.ownSite(r) {
			return nil
		}
		if r.Method == http.MethodPost {
			e.log.Warn("cross-site sign-out refused", "host", r.Host, "client", r.Client)
			return deny(http.StatusForbidden, "sign-out refused: the request did not come from this site\n",
				"text/plain; charset=utf-8", "cross-site sign-out refused")
		}
		return confirmSignOut(r, "cross-site or unvouched sign-out: confirmation asked")
	case http.MethodHead:
		// Safe by definition (RFC 9110), and no browser navigates with it: it acts on nothing.
		return confirmSignOut(r, "HEAD sign-out: confirmation page")
	}
	d := deny(http.StatusMethodNotAllowed, "", "", "sign-out method not allowed")
	d.Header.Set("Allow", "GET, POST")
	return d
}

// ownSite reports whether the browser vouches that a request comes from this site or from the user
// directly. Fetch metadata (Sec-Fetch-Site: same-origin, or none for a typed URL or bookmark) is enough;
// without it, or for same-site and cross-site requests, the Origin (or, without one, the Referer) must
// be the request's own origin or on an allowed host (see trustedSource). Every signal present must
// agree: an Origin or Referer from elsewhere refuses even a same-origin fetch, which no browser sends.
// "Origin: null" (sandboxed frames, no-referrer pages) vouches for nothing and refuses nothing. A web
// page cannot make a browser forge any of these headers; clients that can are not a CSRF risk.
func (e *Engine) ownSite(r *Request) bool {
	vouched := false
	switch r.FetchSite {
	case "same-origin", "none":
		vouched = true
	case "", "same-site", "cross-site":
	default:
		return false // not a value browsers send
	}
	src := r.Origin
	if src == "null" {
		src = ""
	}
	if src == "" {
		src = r.Referer
	}
	if src == "" {
		return vouched
	}
	return e.trustedSource(src, r)
}

// trustedSource reports whether src, an Origin or Referer, is the request's own origin, or an http(s)
// origin on an allowed host (Domains) at the scheme's default port and not http for an https request.
func (e *Engine) trustedSource(src string, r *Request) bool {
	u, err := url.Parse(src)
	if err != nil || u.Host == "" || u.User != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return false
	}
	if strings.EqualFold(u.Scheme+"://"+u.Host, origin(r)) {
		return true
	}
	if u.Scheme == "http" && r.Scheme != "http" {
		return false
	}
	if p := u.Port(); p != "" && !(u.Scheme == "https" && p == "443") && !(u.Scheme == "http" && p == "80") {
		return false
	}
	return e.o.Redirects.Allows(u.Hostname())
}

// confirmSignOut is the page a sign-out that the browser does not vouch for gets: nothing is ended,
// and a button posts the same sign-out (with its rd, and nothing else of the query) from this very page, which the browser then
// vouches for. It is a 403 (so that no forward-auth gateway takes it for an allow) with no script,
// no-store, and a CSP that allows nothing but the form; it may not be framed (no clickjacking of the
// button). Its Referrer-Policy keeps the Origin and Referer of that POST: under no-referrer, a browser
// without fetch metadata would send "Origin: null" and the POST would be refused.
func confirmSignOut(r *Request, reason string) *Decision {
	action := PathSignOut
	// An rd too long to return to (see start) is not carried over: it would only make the page big.
	if rd := queryParam(r.URI, "rd"); rd != "" && len(rd) <= MaxReturnURL {
		action += "?rd=" + url.QueryEscape(rd)
	}
	body := `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign out?</title></head>
<body><h1>Sign out?</h1>
<p>A sign-out was requested from outside this site. Sign out only if you meant to.</p>
<form method="post" action="` + html.EscapeString(action) + `"><button type="submit">Sign out</button></form>
</body></html>
`
	d := deny(http.StatusForbidden, body, "text/html; charset=utf-8", reason)
	d.Header.Set("Content-Security-Policy", "default-src 'none'; base-uri 'none'; frame-ancestors 'none'")
	d.Header.Set("X-Frame-Options", "DENY")
	d.Header.Set("X-Content-Type-Options", "nosniff")
	d.Header.Set("Referrer-Policy", "same-origin")
	return d
}
