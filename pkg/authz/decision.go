// Package authz is the engine: it turns one gateway request into a Decision. Fronts translate requests in
// and render decisions out; everything that decides (sessions, login, refresh, policy) lives here once.
package authz

import (
	"net/http"
)

// Outcome is the kind of a Decision.
type Outcome uint8

// Outcomes a Decision can have.
const (
	// Allow lets the request through to the upstream with Decision.Upstream set on it.
	Allow Outcome = iota + 1
	// Redirect sends the browser to Decision.Location (302) with Decision.Cookies.
	Redirect
	// Deny answers the client with Decision.Status (4xx), Decision.Header and Decision.Body.
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
	Front     string // which front asked; see Front* constants
	Method    string // the client's method, upper case
	Scheme    string // "https" or "http", as the client used it
	Host      string // the client's Host / :authority, with port if one was given
	URI       string // path and query as the client sent them
	Accept    string // the client's Accept header
	FetchMode string // the client's Sec-Fetch-Mode header
	FetchSite string // the client's Sec-Fetch-Site header; with Origin and Referer, who asked for a sign-out
	Origin    string // the client's Origin header
	Referer   string // the client's Referer header
	Cookie    string // the client's Cookie header(s), joined with "; "
	// Authorization is the client's Authorization header, as sent ("" for none). It is read only when
	// Options.Bearer is set and the request carries no session cookie (see Engine.Decide).
	Authorization string
	NoRedirect    bool   // the gateway cannot pass a 3xx to the browser (nginx auth_request): answer 401 instead
	Client        string // the client's address as the gateway saw it; for logs of suspicious requests
	// Route is the policy route the gateway named for this request (Envoy's context extension
	// authbridge_route, forward-auth's ?route=), "" for none: then the policy matches host, path and method.
	Route string
	// RequestID names the request in the decision log: the gateway's x-request-id, or one the front
	// generated (see RequestID).
	RequestID string
	// TraceParent and TraceState are the W3C trace context the gateway sent ("" for none): the decision's
	// span continues that trace, and the decision log names its trace id.
	TraceParent, TraceState string
}

// Decision is what the engine concluded about one request. Fronts render it; it holds no protocol types.
type Decision struct {
	Outcome  Outcome
	Status   int            // Redirect: 302, or 303 after a POST; Deny: 4xx (e.g. 400, 401, 403, 405, 431)
	Location string         // Redirect only: where the browser goes next
	Cookies  []*http.Cookie // to set on the browser
	Upstream http.Header    // Allow only: set on the proxied request, replacing what the client sent
	Header   http.Header    // Redirect and Deny: extra headers for the client (WWW-Authenticate, Content-Type)
	Body     string         // Deny only: a short body for the client
	Reason   string         // for logs and metrics; never sent to the client

	route   *compiledRoute // the policy route that decided, nil for the default rule or none; for the log
	subject string         // whose identity decided (allowed, or refused by a rule); hashed in the log
}

// Identity headers authbridge sets on the upstream request. Allowed requests always carry all three,
// so a gateway that copies only present headers (Caddy 2.6) cannot let a client's own copy through.
const (
	HeaderAuthorization = "Authorization"
	HeaderUser          = "X-Auth-Request-User"
	HeaderEmail         = "X-Auth-Request-Email"
	// HeaderCookie is set on the upstream request of an allowed decision: the client's Cookie header
	// without authbridge's own cookies, for gateways that can replace it (Traefik authResponseHeaders,
	// nginx auth_request_set).
	HeaderCookie = "Cookie"
)

// IdentityHeaders lists the upstream headers authbridge sets on an allowed request, in canonical form.
func IdentityHeaders() []string { return []string{HeaderAuthorization, HeaderUser, HeaderEmail} }

// trustedIdentity is the one list of request headers that some proxy or app trusts to say who the user
// is. A client's copy of any of them, in any spelling, never reaches the upstream: the ext_authz front
// removes them, and the shipped gateway configs for the HTTP fronts are tested against this list. Names
// are lower case with '-'; see IsIdentityHeader for spellings.
var trustedIdentity = []string{
	"authorization",
	// oauth2-proxy (set_xauthrequest, pass_user_headers, pass_access_token).
	"x-auth-request-user", "x-auth-request-email", "x-auth-request-preferred-username",
	"x-auth-request-groups", "x-auth-request-access-token",
	"x-forwarded-user", "x-forwarded-email", "x-forwarded-groups", "x-forwarded-preferred-username",
	"x-forwarded-access-token",
	// Authelia, and apps configured for it (Remote-* as in CGI REMOTE_USER).
	"remote-user", "remote-groups", "remote-email", "remote-name",
	// Pomerium.
	"x-pomerium-jwt-assertion",
	// Kubernetes' authenticating proxy, Grafana's and other apps' auth-proxy modes.
	"x-remote-user", "x-remote-group", "x-webauth-user", "x-webauth-email", "x-webauth-name",
	"x-authenticated-user", "x-authenticated-userid", "x-userinfo", "x-user", "x-email",
	// Cloud load balancers' identity headers, which apps ported from them still read.
	"x-amzn-oidc-data", "x-amzn-oidc-identity", "x-amzn-oidc-accesstoken",
	"x-goog-authenticated-user-email", "x-goog-authenticated-user-id", "x-goog-iap-jwt-assertion",
	"x-ms-client-principal", "x-ms-client-principal-name", "x-ms-client-principal-id",
	"x-ms-client-principal-idp", "x-ms-token-aad-access-token", "x-ms-token-aad-id-token",
}

// trustedIdentityPrefixes are families of identity headers (Pomerium's per-claim headers, the
// Kubernetes proxy's extra attributes, oauth2-proxy's X-Auth-Request-*).
var trustedIdentityPrefixes = []string{"x-auth-request-", "x-pomerium-claim-", "x-remote-extra-", "x-forwarded-user-"}

// TrustedIdentityHeaders returns the list IsIdentityHeader matches, lower case with '-', and the
// prefixes of the header families it matches, for checking gateway configs against.
func TrustedIdentityHeaders() (names, prefixes []string) {
	return append([]string(nil), trustedIdentity...), append([]string(nil), trustedIdentityPrefixes...)
}

// IsIdentityHeader reports whether a request header named name claims the user's identity for some
// proxy or app (TrustedIdentityHeaders), in any spelling a proxy might pass on: any case, and '_' or
// '.' in place of '-' (nginx, CGI, PHP and WSGI map them onto one another).
func IsIdentityHeader(name string) bool {
	if len(name) > 64 {
		return false // no identity header is this long; spares the hot path a long compare
	}
	var buf [64]byte
	n := normalizeHeader(buf[:0], name)
	if _, ok := trustedIdentitySet[string(n)]; ok { // no allocation: the compiler reads n in place
		return true
	}
	for _, p := range trustedIdentityPrefixes {
		if len(n) > len(p) && string(n[:len(p)]) == p {
			return true
		}
	}
	return false
}

// trustedIdentitySet is trustedIdentity as a set, built once; read-only.
var trustedIdentitySet = func() map[string]struct{} {
	m := make(map[string]struct{}, len(trustedIdentity))
	for _, h := range trustedIdentity {
		m[h] = struct{}{}
	}
	return m
}()

// normalizeHeader appends name lower-cased, with '_' and '.' as '-', to dst.
func normalizeHeader(dst []byte, name string) []byte {
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_' || c == '.':
			c = '-'
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}
