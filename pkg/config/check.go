package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// isReservedAuthParam reports whether an authorization request parameter is one authbridge sets itself.
func isReservedAuthParam(name string) bool {
	switch name {
	case "client_id", "redirect_uri", "response_type", "scope", "state", "nonce", "code_challenge", "code_challenge_method":
		return true
	}
	return false
}

// checkIssuer returns what is wrong with an issuer URL, or "".
func checkIssuer(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "":
		return "is not an absolute URL such as https://tenant.auth0.com/"
	case u.User != nil:
		return "must not hold credentials"
	case u.RawQuery != "" || u.Fragment != "":
		return "must not have a query or fragment"
	case u.Scheme == "http" && !isLoopbackHost(u.Hostname()):
		return "uses http, allowed only for 127.0.0.1, localhost or ::1; use https"
	case u.Scheme != "https" && u.Scheme != "http":
		return "is not an https URL"
	}
	return ""
}

// checkRedirectURL returns what is wrong with the callback URL, or "".
func checkRedirectURL(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "":
		return "is not an absolute URL such as https://auth.example.com/oauth2/callback"
	case u.Scheme != "https" && u.Scheme != "http":
		return "is not an http or https URL"
	case u.User != nil:
		return "must not hold credentials"
	case u.Fragment != "":
		return "must not have a fragment"
	case u.Path == "" || u.Path == "/":
		return "needs a callback path such as /oauth2/callback"
	}
	return ""
}

// checkRedisURL returns what is wrong with a Redis URL, or "". It never quotes the URL's password.
func checkRedisURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "does not parse as a URL" // err may quote the whole URL, password included
	}
	if u.User == nil && strings.Contains(s, "@") {
		// An unencoded '/', '?' or '#' in the password moved the '@' out of the user info: parts of the
		// password now sit in the host, path or query, where Redacted would show them.
		return "has '@' outside the user info (percent-encode special characters in the password)"
	}
	if u.Query().Has("skip_verify") {
		return "option skip_verify is not supported: certificates are always verified (trust a private CA with session.redis.tls.ca_file)"
	}
	shown := strconv.Quote(u.Redacted())
	switch {
	case u.Scheme != "redis" && u.Scheme != "rediss":
		return shown + " is not a redis:// or rediss:// URL"
	case u.Host == "":
		return shown + " has no host"
	}
	return ""
}

// checkHostPort checks a host:port address; the host may be empty only when emptyHost is true.
func checkHostPort(s string, emptyHost bool) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return errors.New("is not a host:port address")
	}
	if host == "" && !emptyHost {
		return errors.New("has no host")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("has an invalid port %q", port)
	}
	return nil
}

// listenConflict reports whether two valid listen addresses would bind the same port; port 0 (any free
// port) never conflicts.
func listenConflict(a, b string) bool {
	ha, pa, _ := net.SplitHostPort(a)
	hb, pb, _ := net.SplitHostPort(b)
	if pa != pb || pa == "0" {
		return false
	}
	wildcard := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return strings.EqualFold(ha, hb) || wildcard(ha) || wildcard(hb)
}

func isLoopbackHost(h string) bool {
	return h == "localhost" || h == "127.0.0.1" || h == "::1"
}

// isDomain reports whether s is a DNS name (letters, digits, hyphens and dots, no scheme, port or path).
func isDomain(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// isRedirectEntry reports whether s is a valid redirect.allowed_domains entry: an optional leading dot
// (subdomains; not for IP addresses), an ASCII host (a domain, punycode for IDNs, or an IP address, IPv6
// in brackets without a zone), and an optional :port (1-65535, no leading zero).
func isRedirectEntry(s string) bool {
	rest, dot := strings.CutPrefix(s, ".")
	host, port := rest, ""
	if strings.HasPrefix(rest, "[") {
		i := strings.IndexByte(rest, ']')
		if i < 0 || dot {
			return false
		}
		a, err := netip.ParseAddr(rest[1:i])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return false
		}
		host, port = "", rest[i+1:]
		if port != "" && port[0] != ':' {
			return false
		}
	} else if i := strings.IndexByte(rest, ':'); i >= 0 {
		host, port = rest[:i], rest[i:]
	}
	if port != "" {
		port = port[1:]
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port[0] == '0' || strconv.Itoa(n) != port {
			return false
		}
	}
	if host == "" {
		return !dot && strings.HasPrefix(rest, "[")
	}
	if dot {
		if _, err := netip.ParseAddr(host); err == nil {
			return false
		}
	}
	return isDomain(host)
}

// isCookieToken reports whether s is a valid cookie name: an RFC 6265 token (visible ASCII, no separators).
func isCookieToken(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		b := s[i]
		if b <= ' ' || b >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, b) >= 0 {
			return false
		}
	}
	return true
}

// hasPrefixFold is strings.HasPrefix ignoring ASCII case: browsers match cookie prefixes that way.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// parseProxy parses a trusted proxy entry: a CIDR (masked to its network) or a bare IP (/32 or /128).
func parseProxy(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}
