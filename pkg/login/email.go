package login

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of RFC 5321 (section 4.5.3.1).
const (
	maxEmail      = 254
	maxEmailLocal = 64
	maxLabel      = 63
)

// ParseEmail splits a bare e-mail address into its local part and its domain, lower-cased. It accepts
// only what a provider puts in an email claim: exactly one @, a dot-atom local part (RFC 5322 atext,
// plus letters, marks and digits beyond ASCII for internationalized names) and an ASCII host name of
// letters, digits and hyphens. Anything else — a display name, angle brackets, quotes, spaces, control
// or format characters, a second @, an IP literal, a non-ASCII domain — is not an address: ok is false.
// Domains are compared as ASCII so that no Unicode case folding (the Kelvin sign folds to k) can make
// one domain pass for another.
func ParseEmail(addr string) (local, domain string, ok bool) {
	if len(addr) > maxEmail || !utf8.ValidString(addr) || strings.Count(addr, "@") != 1 {
		return "", "", false
	}
	local, domain, _ = strings.Cut(addr, "@")
	if !validLocal(local) || !validDomain(domain) {
		return "", "", false
	}
	return local, strings.ToLower(domain), true
}

// validLocal reports whether s is a dot-atom: atoms of allowed characters joined by single dots.
func validLocal(s string) bool {
	if s == "" || len(s) > maxEmailLocal {
		return false
	}
	for atom := range strings.SplitSeq(s, ".") {
		if atom == "" { // leading, trailing or doubled dot
			return false
		}
		for _, r := range atom {
			if !atext(r) {
				return false
			}
		}
	}
	return true
}

// atext reports whether r may appear in an atom: RFC 5322 atext, or a non-ASCII letter, mark or digit.
func atext(r rune) bool {
	switch {
	case r < utf8.RuneSelf:
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' ||
			strings.ContainsRune("!#$%&'*+-/=?^_`{|}~", r)
	default:
		return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsDigit(r)
	}
}

// validDomain reports whether s is an ASCII host name: labels of letters, digits and inner hyphens.
func validDomain(s string) bool {
	if s == "" || len(s) > maxEmail {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > maxLabel || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := range len(label) {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// EmailInDomains reports whether addr is a well-formed address (see ParseEmail) whose domain is exactly
// one of domains, compared without regard to ASCII case. A subdomain is not its parent.
func EmailInDomains(addr string, domains []string) bool {
	_, d, ok := ParseEmail(addr)
	if !ok {
		return false
	}
	for _, want := range domains {
		if asciiEqualFold(d, want) {
			return true
		}
	}
	return false
}

// asciiEqualFold is strings.EqualFold restricted to ASCII letters.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
