package authz

import (
	"net/url"
	"strings"
)

// Domains is the list of hosts the browser may be sent back to after login or sign-out. An entry
// "example.com" allows exactly that host; ".example.com" allows example.com and every subdomain.
type Domains []string

// Allows reports whether host (without port) is on the list.
func (d Domains) Allows(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "" {
		return false
	}
	for _, e := range d {
		e = strings.ToLower(e)
		if strings.HasPrefix(e, ".") {
			if host == e[1:] || strings.HasSuffix(host, e) {
				return true
			}
		} else if host == e {
			return true
		}
	}
	return false
}

// Clean returns raw as an absolute URL if it is safe to send the browser to, or "" if not. raw may be
// absolute (http or https, on an allowed domain, no user info) or a path starting with one "/", which
// is taken relative to base (scheme://host of the request). Schemes other than http(s), protocol-relative
// "//host" and "/\host" (which browsers read as "//host"), control characters and hosts off the list
// are all refused.
func (d Domains) Clean(raw, base string) string {
	if raw == "" || len(raw) > 4096 {
		return ""
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return ""
		}
	}
	if raw[0] == '/' {
		if len(raw) > 1 && raw[1] == '/' {
			return ""
		}
		raw = base + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || u.User != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return ""
	}
	if !d.Allows(u.Hostname()) {
		return ""
	}
	// Paths such as "//evil.example" after the host are harmless to us but confuse naive parsers
	// downstream; refuse them rather than reason about every consumer.
	if strings.HasPrefix(u.Path, "//") {
		return ""
	}
	return u.String()
}
