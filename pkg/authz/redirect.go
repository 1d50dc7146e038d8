package authz

import (
	"net/netip"
	"net/url"
	"strings"
)

// Domains is the list of places the browser may be sent back to after login or sign-out. Each entry is a
// host, optionally followed by a port:
//
//	app.example.com        that host, on the scheme's default port (443 for https, 80 for http)
//	.example.com           example.com and every subdomain, on the default port
//	app.example.com:8443   that host on port 8443 only (list it also without a port for 443)
//	.example.com:8443      example.com and every subdomain, on port 8443 only
//	127.0.0.1, [::1]:8443  an IP address, only when a URL spells it exactly so
//
// Hosts are ASCII and compared without regard to case. An internationalised name is listed, and must be
// written in return URLs, in punycode (xn--…); a URL with raw Unicode, a percent-encoded host, a trailing
// dot, an IPv6 zone or a numeric host in any other spelling than an exact entry (0x7f.1, 2130706433,
// 127.1) is refused. A leading-dot entry never matches an IP address.
type Domains []string

// Allows reports whether host (a host name or IP address, without port) is named by an entry, on
// whatever port the entry names. Hosts that are not plain ASCII names or exact IP entries are refused.
func (d Domains) Allows(host string) bool {
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]"
	}
	host, _, ok := splitAuthority(strings.ToLower(host))
	if !ok {
		return false
	}
	for _, e := range d {
		if h, _, ok := parseEntry(e); ok && matchHost(h, host) {
			return true
		}
	}
	return false
}

// allows reports whether the list names t's host on t's port.
func (d Domains) allows(t place) bool {
	port := t.port
	if port == "" {
		port = defaultPort(t.scheme)
	}
	for _, e := range d {
		h, p, ok := parseEntry(e)
		if ok && matchHost(h, t.host) && (p == port || p == "" && t.port == "") {
			return true
		}
	}
	return false
}

// Clean returns raw as an absolute URL if it is safe to send the browser to, or "" if not. base is the
// request's own origin (scheme://host[:port]).
//
// A path that starts with exactly one "/" stays on base, whether or not base's host is on the list.
// An absolute URL must be http or https, without user info, and its host must be base's host or on the
// list; its scheme must be https unless base is http (no downgrade); its port must be the scheme's
// default, or named by an entry for its host, or base's own (same scheme, host and port). Protocol-relative
// "//host", backslashes anywhere (browsers read "/\host" as "//host"), control characters, spaces,
// malformed percent escapes, and a path that starts with "//" or holds control characters once decoded
// are all refused. The result has its scheme and host in lower case, no default port, and its path,
// query and fragment percent-encoded.
func (d Domains) Clean(raw, base string) string {
	if raw == "" || len(raw) > 2*MaxReturnURL {
		return ""
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c <= ' ' || c == 0x7f || c == '\\' {
			return ""
		}
	}
	b, baseOK := parseOrigin(base)
	if raw[0] == '/' {
		if !baseOK || strings.HasPrefix(raw, "//") {
			return ""
		}
		return b.build(raw)
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return "" // "https:evil.com", "javascript:…", "app.example.com/x": no authority, or no scheme
	}
	t, ok := parseAuthority(strings.ToLower(scheme), rest)
	if !ok {
		return ""
	}
	if t.scheme == "http" && (!baseOK || b.scheme != "http") {
		return "" // never downgrade an https request (or one we cannot place) to http
	}
	sameOrigin := baseOK && t.scheme == b.scheme && t.host == b.host && t.port == b.port
	sameHost := baseOK && t.host == b.host && t.port == ""
	if !sameOrigin && !sameHost && !d.allows(t) {
		return ""
	}
	return t.build(t.tail)
}

// place is a validated scheme, host (lower case; an IPv6 address in brackets) and port (empty for the
// scheme's default), and the rest of the string it was parsed from.
type place struct {
	scheme, host, port string
	tail               string
}

// parseOrigin parses base, the request's own scheme://host[:port], by the rules of a return URL.
func parseOrigin(base string) (place, bool) {
	scheme, rest, ok := strings.Cut(base, "://")
	if !ok {
		return place{}, false
	}
	p, ok := parseAuthority(strings.ToLower(scheme), rest)
	if !ok || p.tail != "" {
		return place{}, false
	}
	if numericHost(p.host) {
		// Browsers send an IPv4 host only as a dotted quad; any other numeric spelling is not a browser's.
		if a, err := netip.ParseAddr(p.host); err != nil || !a.Is4() || a.String() != p.host {
			return place{}, false
		}
	}
	return p, true
}

// parseAuthority reads host[:port] at the start of rest, up to "/", "?", "#" or the end, for scheme.
func parseAuthority(scheme, rest string) (place, bool) {
	if scheme != "https" && scheme != "http" {
		return place{}, false
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	host, port, ok := splitAuthority(strings.ToLower(rest[:end]))
	if !ok {
		return place{}, false
	}
	if port == defaultPort(scheme) {
		port = ""
	}
	return place{scheme: scheme, host: host, port: port, tail: rest[end:]}, true
}

// splitAuthority validates a lower-case host[:port] and splits it; port is as written (empty if none).
// User info ("user@", "app.example.com@evil.com", "a:443@evil.com"), percent-encoded hosts and IPv6 zones
// are refused before anything tries to decode them.
func splitAuthority(auth string) (host, port string, ok bool) {
	if auth == "" || strings.ContainsAny(auth, "@%") {
		return "", "", false
	}
	host, port = auth, ""
	if strings.HasPrefix(auth, "[") {
		i := strings.IndexByte(auth, ']')
		if i < 0 {
			return "", "", false
		}
		host, port = auth[:i+1], auth[i+1:]
		if a, err := netip.ParseAddr(host[1:i]); err != nil || !a.Is6() || a.Zone() != "" {
			return "", "", false
		}
	} else if i := strings.IndexByte(auth, ':'); i >= 0 {
		host, port = auth[:i], auth[i:]
		if !validHost(host) {
			return "", "", false
		}
	} else if !validHost(host) {
		return "", "", false
	}
	if port != "" {
		if port, ok = strings.CutPrefix(port, ":"); !ok || !validPort(port) {
			return "", "", false
		}
	}
	return host, port, true
}

// build returns the place's origin followed by tail (path, query and fragment), re-encoded, or "" if
// tail is not one.
func (p place) build(tail string) string {
	if tail == "" || tail[0] != '/' {
		tail = "/" + tail // "https://app.example.com", "…?x" and "…#y": the root
	}
	if strings.HasPrefix(tail, "//") || !validEscapes(tail) {
		return ""
	}
	host := p.host
	if p.port != "" {
		host += ":" + p.port
	}
	u, err := url.Parse(p.scheme + "://" + host + tail)
	if err != nil || u.Host != host || strings.HasPrefix(u.Path, "//") || strings.HasPrefix(u.Path, "/\\") {
		return ""
	}
	for i := 0; i < len(u.Path); i++ {
		if c := u.Path[i]; c < ' ' || c == 0x7f {
			return "" // "/%09/evil.com": harmless here, but not worth reasoning about every consumer
		}
	}
	u.RawQuery = escapeQuery(u.RawQuery)
	return u.String()
}

// parseEntry splits an allowlist entry into its host (lower case, a leading dot kept) and its port as
// written (empty: the scheme's default). ok is false for an entry that is not a valid [.]host[:port].
func parseEntry(e string) (host, port string, ok bool) {
	e = strings.ToLower(e)
	rest, dot := strings.CutPrefix(e, ".")
	host, port, ok = splitAuthority(rest)
	if !ok {
		return "", "", false
	}
	if dot {
		if numericHost(host) || strings.HasPrefix(host, "[") {
			return "", "", false
		}
		host = "." + host
	}
	return host, port, true
}

// matchHost reports whether entry (from parseEntry) allows host. IP addresses and other numeric hosts
// match only an entry that is exactly the same string.
func matchHost(entry, host string) bool {
	if suffix, ok := strings.CutPrefix(entry, "."); ok {
		return !numericHost(host) && !strings.HasPrefix(host, "[") && (host == suffix || strings.HasSuffix(host, entry))
	}
	return host == entry
}

// validHost reports whether h (lower case) is an ASCII DNS name: letters, digits and hyphens in labels
// of 1 to 63, no empty label (so no trailing dot). Numeric hosts pass here; matchHost restricts them.
func validHost(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// numericHost reports whether a browser would read h as an IPv4 address in some spelling: its last label
// is all digits or 0x-hex (the WHATWG URL "ends in a number" rule), as in 127.0.0.1, 2130706433, 0x7f.1.
func numericHost(h string) bool {
	last := h[strings.LastIndexByte(h, '.')+1:]
	if x, ok := strings.CutPrefix(last, "0x"); ok {
		return strings.Trim(x, "0123456789abcdef") == ""
	}
	return last != "" && strings.Trim(last, "0123456789") == ""
}

// validPort reports whether p is a decimal port 1-65535 without leading zeros.
func validPort(p string) bool {
	if p == "" || len(p) > 5 || p[0] == '0' || strings.Trim(p, "0123456789") != "" {
		return false
	}
	n := 0
	for i := 0; i < len(p); i++ {
		n = n*10 + int(p[i]-'0')
	}
	return n <= 65535
}

func defaultPort(scheme string) string {
	if scheme == "http" {
		return "80"
	}
	return "443"
}

// validEscapes reports whether every "%" in s starts a two-digit hex escape.
func validEscapes(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && (i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2])) {
			return false
		}
	}
	return true
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// escapeQuery percent-encodes the bytes of a raw query that may not appear in one unencoded (RFC 3986
// 3.4): non-ASCII and the few ASCII characters outside its set. Existing escapes are kept as they are.
func escapeQuery(q string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	escaped := false
	for i := 0; i < len(q); i++ {
		c := q[i]
		ok := c > ' ' && c < 0x7f && strings.IndexByte(`"<>\^`+"`{|}", c) < 0
		switch {
		case ok && escaped:
			b.WriteByte(c)
		case !ok:
			if !escaped {
				b.WriteString(q[:i])
				escaped = true
			}
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	if !escaped {
		return q
	}
	return b.String()
}
