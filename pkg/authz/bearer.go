package authz

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/authbridge/authbridge/pkg/bearer"
)

// BearerVerifier verifies the token of an `Authorization: Bearer` header (pkg/bearer.Verifier): the
// token's claims, or an error wrapping bearer.ErrInvalidToken (refused: 401) or bearer.ErrUnavailable
// (could not be decided: 503). The returned Claims are read-only.
type BearerVerifier interface {
	Verify(ctx context.Context, token string) (*bearer.Claims, error)
}

// bearerRealm is the realm of every challenge authbridge sends.
const bearerRealm = `Bearer realm="authbridge"`

// bearerToken reads an Authorization header value as a bearer credential (RFC 6750 2.1, RFC 7235):
// the scheme "Bearer" in any case, exactly one space, and a token68. isBearer is false for another
// scheme (Basic, ...), which is no business of this path; ok is false for a bearer credential that is
// malformed: no token, more than one space, other whitespace, or characters outside token68.
func bearerToken(h string) (token string, isBearer, ok bool) {
	const scheme = "bearer"
	if len(h) < len(scheme) || !strings.EqualFold(h[:len(scheme)], scheme) {
		return "", false, false
	}
	rest := h[len(scheme):]
	if rest == "" {
		return "", true, false // "Bearer" alone
	}
	if rest[0] != ' ' {
		if rest[0] == '\t' {
			return "", true, false
		}
		return "", false, false // "Bearerx ...": another scheme
	}
	token = rest[1:]
	return token, true, isToken68(token)
}

// isToken68 reports whether s is an RFC 7235 token68: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" /
// "/" ) *"=".
func isToken68(s string) bool {
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/') {
			break
		}
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// checkBearer decides the request of an API client: no session cookie, an Authorization header, and
// bearer tokens on. Another scheme than Bearer is as no credential (the session path's answer). A
// malformed bearer credential is 400 invalid_request; a token the verifier refuses, 401 invalid_token;
// an identity the route's rule refuses, 403 insufficient_scope; never a login redirect, whatever the
// request looks like. A verifier that cannot decide (the issuer's keys unreachable) is an error: 503.
// Allowed, the upstream gets the client's Authorization header unchanged and the identity headers from
// the token's claims.
func (e *Engine) checkBearer(ctx context.Context, r *Request, rt *compiledRoute) (*Decision, error) {
	token, isBearer, ok := bearerToken(r.Authorization)
	switch {
	case !isBearer:
		return e.unauthenticated(r, "no session cookie")
	case !ok:
		return bearerDenied(http.StatusBadRequest, "invalid_request", "The Authorization header is not one well-formed bearer token",
			reasonMalformedBearer), nil
	}
	c, err := e.o.Bearer.Verify(ctx, token)
	switch {
	case errors.Is(err, bearer.ErrInvalidToken):
		// err names the reason, never the token (pkg/bearer's contract).
		e.log.Debug("bearer token refused", "err", err, "host", r.Host, "client", r.Client)
		desc := bearer.Description(err)
		return bearerDenied(http.StatusUnauthorized, "invalid_token", desc, "bearer token refused: "+desc), nil
	case err != nil:
		return nil, err
	}
	rl := e.ruleFor(rt)
	var claims map[string][]string
	if len(rl.claims) > 0 || rt != nil && rt.headers != nil {
		claims = c.Values(e.policy.claims)
	}
	if !rl.empty() {
		id := Identity{Subject: c.Subject, Email: c.Email, Groups: c.Groups, Claims: claims}
		if reason := rl.refuse(&id); reason != "" {
			if rt != nil {
				reason = rt.label() + ": " + reason
			}
			d := bearerDenied(http.StatusForbidden, "insufficient_scope", "", "bearer token: "+reason)
			d.subject = c.Subject
			return d, nil
		}
	}
	d := allowWith(r.Authorization, c.Subject, c.Email, reasonBearerAllowed)
	if rt != nil && rt.headers != nil {
		addHeaders(d, rt.headers, c.Groups, claims)
	}
	return d, nil
}

// bearerDenied is an RFC 6750 (3.1) refusal: status with a challenge naming the error code and, when
// desc is set, its description, and a small JSON body saying the same. No login URL: an API client
// cannot log in through a browser.
func bearerDenied(status int, code, desc, reason string) *Decision {
	challenge := bearerRealm + `, error="` + code + `"`
	body := `{"error":` + jsonString(code)
	if desc != "" {
		challenge += `, error_description="` + quoteEscape(desc) + `"`
		body += `,"error_description":` + jsonString(desc)
	}
	d := deny(status, body+"}\n", "application/json", reason)
	d.Header.Set("WWW-Authenticate", challenge)
	return d
}

// quoteEscape makes s the content of an RFC 7230 quoted-string: backslash and double quote escaped,
// control characters dropped (a header value can hold no line break).
func quoteEscape(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r == '"' || r == '\\' || r < 0x20 || r == 0x7f }) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
