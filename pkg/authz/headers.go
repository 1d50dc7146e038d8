package authz

import (
	"errors"
	"fmt"
	"maps"
	"net/textproto"
	"slices"
	"strings"
)

// GroupsSource is the source name of Route.Headers that stands for the user's groups (the session's,
// from oidc.groups_claim, or a bearer token's) rather than a claim of that name.
const GroupsSource = "groups"

// MaxHeaderValue caps the value of a route header (Route.Headers). Values are added whole, in order, while
// they fit; one that would pass the cap ends the list.
const MaxHeaderValue = 4 << 10

// headerSource is one entry of Route.Headers, compiled: the canonical header name and where its value
// comes from.
type headerSource struct {
	name   string // canonical (textproto.CanonicalMIMEHeaderKey)
	claim  string // the claim read; "" for groups
	groups bool
}

// forbiddenUpstream are header names a route may not set: authbridge's own, and those that frame or
// route the request rather than describe the user (RFC 9110 7.6.1 hop-by-hop fields among them).
var forbiddenUpstream = []string{
	"authorization", "cookie", "host", "x-auth-request-user", "x-auth-request-email",
	"connection", "keep-alive", "proxy-connection", "proxy-authorization", "proxy-authenticate",
	"te", "trailer", "transfer-encoding", "upgrade", "content-length", "x-forwarded-for",
	"x-forwarded-host", "x-forwarded-proto", "x-forwarded-uri", "x-forwarded-method", "x-original-url",
}

// CheckHeaderName reports why name cannot be set on the upstream by Route.Headers, or nil. A name is
// letters, digits and '-' (an RFC 9110 token without '_', '.' and the other symbols, which proxies map
// onto one another or drop), at most 64 bytes, and either an identity header (IsIdentityHeader, which
// the fronts already strip from clients) or an X- header; never Authorization, Cookie, Host, a hop-by-hop
// field, X-Forwarded-* request description, or one of the identity headers authbridge always sets.
func CheckHeaderName(name string) error {
	if name == "" || len(name) > 64 || name[0] == '-' || name[len(name)-1] == '-' {
		return fmt.Errorf("header %q: want 1 to 64 letters, digits and '-'", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return fmt.Errorf("header %q: want letters, digits and '-' only", name)
		}
	}
	lower := strings.ToLower(name)
	if slices.Contains(forbiddenUpstream, lower) {
		return fmt.Errorf("header %q cannot be set by a route (authbridge's own, or part of the request's framing or description)", name)
	}
	if !IsIdentityHeader(name) && !strings.HasPrefix(lower, "x-") {
		return fmt.Errorf("header %q: a route sets identity headers (such as X-Auth-Request-Groups) or X- headers only", name)
	}
	return nil
}

// CheckHeaderSource reports why claim cannot be the source of a route header, or nil.
func CheckHeaderSource(claim string) error {
	switch {
	case strings.TrimSpace(claim) == "":
		return errors.New("empty claim name")
	case claim == "email" || claim == "email_verified":
		return fmt.Errorf("claim %q holds unverified addresses too; X-Auth-Request-Email carries the verified one", claim)
	}
	return nil
}

// compileHeaders checks h (Route.Headers) and returns it sorted by canonical name.
func compileHeaders(h map[string]string) ([]headerSource, error) {
	var out []headerSource
	seen := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(h)) {
		if err := CheckHeaderName(name); err != nil {
			return nil, err
		}
		if err := CheckHeaderSource(h[name]); err != nil {
			return nil, fmt.Errorf("header %s: %w", name, err)
		}
		canon := textproto.CanonicalMIMEHeaderKey(name)
		if prev, dup := seen[canon]; dup {
			return nil, fmt.Errorf("header %q and %q are one header", prev, name)
		}
		seen[canon] = name
		src := headerSource{name: canon, claim: h[name]}
		if src.claim == GroupsSource {
			src.claim, src.groups = "", true
		}
		out = append(out, src)
	}
	return out, nil
}

// addHeaders sets the route's headers on an allowed decision's upstream, from groups and claims (the
// claims a session or token holds). Every configured header is set, empty when the source has no values,
// so that a gateway copying only present headers cannot let a client's copy through.
func addHeaders(d *Decision, hs []headerSource, groups []string, claims map[string][]string) {
	for i := range hs {
		vals := groups
		if !hs[i].groups {
			vals = claims[hs[i].claim]
		}
		d.Upstream[hs[i].name] = []string{headerValue(vals)}
	}
}

// headerValue joins vals with ',' into one header value. A value holding a control character (CR, LF,
// NUL, TAB, DEL...) is left out whole, never cleaned up into something else; values are added in order
// while the result stays within MaxHeaderValue.
func headerValue(vals []string) string {
	var b strings.Builder
	for _, v := range vals {
		if v == "" || hasControl(v) {
			continue
		}
		n := len(v)
		if b.Len() > 0 {
			n++
		}
		if b.Len()+n > MaxHeaderValue {
			break
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(v)
	}
	return b.String()
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return true
		}
	}
	return false
}
