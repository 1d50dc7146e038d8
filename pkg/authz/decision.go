// Package authz is the engine: it turns one gateway request into a Decision. Fronts translate requests in
// and render decisions out; everything that decides (sessions, login, refresh, policy) lives here once.
package authz

import (
	"net/http"
	"strings"
)

// Outcome is the kind of a Decision.
type Outcome uint8

// Outcomes a Decision can have.
const (
	// Allow lets the request through to the upstream with Decision.Upstream set on it.
	Allow Outcome = iota + 1
	// Redirect sends the browser to Decision.Location (302) with Decision.Cookies.
	Redirect
	// Deny answers the client with Decision.Status (400, 401 or 403), Decision.Header and Decision.Body.
	Deny
)

// String returns the outcome's metric label.
func (o Outcome) String() string {
	switch o {
	case Allow:
		return "allow"
	case Redirect:
		return "redirect"
	case Deny:
		return "deny"
	}
	return "unknown"
}

// Fronts name themselves in Request.Front; the name labels metrics and logs.
const (
	FrontExtAuthz    = "extauthz"
	FrontForwardAuth = "forwardauth"
	FrontNginx       = "nginx"
	FrontHTTP        = "http" // /oauth2/* answered directly on the HTTP listener
)

// Request is what the engine needs to know about one request a gateway asks about. Fronts fill it from
// their protocol; it holds no protocol types.
type Request struct {
	Front      string // which front asked; see Front* constants
	Method     string // the client's method, upper case
	Scheme     string // "https" or "http", as the client used it
	Host       string // the client's Host / :authority, with port if one was given
	URI        string // path and query as the client sent them
	Accept     string // the client's Accept header
	FetchMode  string // the client's Sec-Fetch-Mode header
	Cookie     string // the client's Cookie header(s), joined with "; "
	NoRedirect bool   // the gateway cannot pass a 3xx to the browser (nginx auth_request): answer 401 instead
	Client     string // the client's address as the gateway saw it; for logs of suspicious requests
}

// Decision is what the engine concluded about one request. Fronts render it; it holds no protocol types.
type Decision struct {
	Outcome  Outcome
	Status   int            // Redirect: 302; Deny: 400, 401 or 403
	Location string         // Redirect only: where the browser goes next
	Cookies  []*http.Cookie // to set on the browser
	Upstream http.Header    // Allow only: set on the proxied request, replacing what the client sent
	Header   http.Header    // Redirect and Deny: extra headers for the client (WWW-Authenticate, Content-Type)
	Body     string         // Deny only: a short body for the client
	Reason   string         // for logs and metrics; never sent to the client
}

// Identity headers authbridge owns on the upstream request. Allowed requests always carry all three,
// so a gateway that copies only present headers (Caddy 2.6) cannot let a client's own copy through.
const (
	HeaderAuthorization = "Authorization"
	HeaderUser          = "X-Auth-Request-User"
	HeaderEmail         = "X-Auth-Request-Email"
)

// IdentityHeaders lists the upstream headers authbridge owns, in canonical form.
func IdentityHeaders() []string { return []string{HeaderAuthorization, HeaderUser, HeaderEmail} }

// IsIdentityHeader reports whether name is one of the identity headers in any spelling a proxy might
// pass on: any case, and '_' or '.' in place of '-' (nginx and others may map them onto one another).
func IsIdentityHeader(name string) bool {
	switch len(name) {
	case len(HeaderAuthorization):
		return strings.EqualFold(name, HeaderAuthorization)
	case len(HeaderUser), len(HeaderEmail):
		return sameHeader(name, HeaderUser) || sameHeader(name, HeaderEmail)
	}
	return false
}

// sameHeader compares header names ignoring case and treating '-', '_' and '.' alike.
func sameHeader(a, canonical string) bool {
	if len(a) != len(canonical) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], canonical[i]
		if x == '_' || x == '.' {
			x = '-'
		}
		if x >= 'A' && x <= 'Z' {
			x += 'a' - 'A'
		}
		if y >= 'A' && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
