package authz

import (
	"errors"
	"net/netip"
	"strings"
)

// ErrBadRequest is what every refusal of a request description wraps: a gateway described the
// client's request ambiguously (a header twice, a list where one value belongs, two sources that
// disagree), incompletely or malformedly. Fronts answer it with 400 before asking the engine, so such
// a request never starts a login, never reaches a session and is never authorised on a guess.
var ErrBadRequest = errors.New("authz: bad request")

// RequestError is a refused request description. Reason is a short fixed phrase that names the field
// or header and what is wrong with it; it never holds the value (which could hold a cookie or be
// attacker-chosen), so it is safe to log and to send to the client.
type RequestError struct{ Reason string }

// BadRequest returns a *RequestError with reason; it wraps ErrBadRequest.
func BadRequest(reason string) error { return &RequestError{Reason: reason} }

func (e *RequestError) Error() string { return "authz: bad request: " + e.Reason }

// Unwrap makes errors.Is(err, ErrBadRequest) hold.
func (e *RequestError) Unwrap() error { return ErrBadRequest }

// Refusals of a target that CheckTarget finds malformed; shared and read-only.
var (
	errMethod      = BadRequest("method is not one of GET HEAD POST PUT DELETE CONNECT OPTIONS TRACE PATCH")
	errScheme      = BadRequest("scheme is not http or https")
	errHost        = BadRequest("host is not a valid host[:port]")
	errURIMissing  = BadRequest("uri is missing")
	errURIForm     = BadRequest("uri is not origin-form (/path?query)")
	errURISlashes  = BadRequest("uri starts with // or /\\")
	errURIByte     = BadRequest("uri has a control character, space, non-ASCII byte or fragment")
	errURIPercent  = BadRequest("uri has a malformed percent-encoding")
	errURIBackslsh = BadRequest("path has a backslash")
	errURIEncoded  = BadRequest("path has an encoded /, \\ or NUL")
	errURIDots     = BadRequest("path has a . or .. segment")
)

// CheckTarget refuses a request whose method, scheme, host or URI a front could not take as exactly one
// request: what every front checks once it has read them from its one source. It allocates nothing.
func CheckTarget(r *Request) error {
	if !KnownMethod(r.Method) {
		return errMethod
	}
	if r.Scheme != "http" && r.Scheme != "https" {
		return errScheme
	}
	if !ValidHost(r.Host) {
		return errHost
	}
	return CheckURI(r.URI)
}

// KnownMethod reports whether m is one of the methods of RFC 9110 section 9 or PATCH (RFC 5789), in
// the exact spelling: methods are case-sensitive, so "get" is not GET, and "GET " is no token at all.
func KnownMethod(m string) bool {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH":
		return true
	}
	return false
}

// Scheme returns the scheme a forwarded-proto value names, "http" or "https". Schemes are
// case-insensitive (RFC 3986 section 3.1), so HTTPS is https; ws and wss, which Traefik sends for a
// WebSocket handshake, are http and https (RFC 6455 section 3). Anything else, a list ("https,http",
// from proxies that append) included, is not a scheme: ok is false.
func Scheme(v string) (scheme string, ok bool) {
	switch {
	case strings.EqualFold(v, "https"), strings.EqualFold(v, "wss"):
		return "https", true
	case strings.EqualFold(v, "http"), strings.EqualFold(v, "ws"):
		return "http", true
	}
	return "", false
}

// ValidHost reports whether h is exactly host[:port] (RFC 9110 section 7.2, RFC 3986 section 3.2.2):
// a DNS name of ASCII letters, digits, '-' and '_' in non-empty labels (no trailing dot), a dotted-quad
// IPv4 address or a bracketed IPv6 address without zone, and an optional port 1-65535 without leading
// zeros. Refused: userinfo (a@b), non-ASCII (IDNs arrive in punycode), percent-encoding, a second
// colon, an empty port, and a name whose last label is numeric but not a canonical IPv4 address (127.1,
// 0x7f.1, 2130706433: browsers read those as IPv4 addresses, other parsers as names).
func ValidHost(h string) bool {
	if h == "" {
		return false
	}
	name, port := h, ""
	if h[0] == '[' {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return false
		}
		ip, err := netip.ParseAddr(h[1:end])
		if err != nil || !ip.Is6() || ip.Zone() != "" {
			return false
		}
		rest := h[end+1:]
		if rest == "" {
			return true
		}
		if rest[0] != ':' {
			return false
		}
		return validPort(rest[1:])
	}
	if i := strings.IndexByte(h, ':'); i >= 0 {
		name, port = h[:i], h[i+1:]
		if !validPort(port) {
			return false
		}
	}
	return validName(name)
}

func validName(name string) bool {
	if name == "" || len(name) > 253 {
		return false
	}
	label, last := 0, 0 // length of the current label, start of the last one
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '.':
			if label == 0 {
				return false
			}
			label, last = 0, i+1
			continue
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
		label++
		if label > 63 {
			return false
		}
	}
	if label == 0 {
		return false // empty last label: a trailing dot
	}
	tld := name[last:]
	if c := tld[0]; '0' <= c && c <= '9' {
		// WHATWG URL parsing takes a name whose last label is numeric (decimal, or 0x hex) as an IPv4
		// address; only the canonical dotted quad means one thing to every parser.
		ip, err := netip.ParseAddr(name)
		return err == nil && ip.Is4()
	}
	return true
}

// CheckURI refuses a request URI that is not one unambiguous origin-form target (RFC 9112 section
// 3.2.1): it must start with "/" but not "//" (a scheme-relative URL to another host), hold only
// printable ASCII without '#' and with well-formed percent-encodings, and its path must have no
// backslash, no encoded '/', '\' or NUL (%2F %5C %00), and no "." or ".." segment, encoded or not and
// with or without ";params": all of these are read differently by the gateway, authbridge and the
// upstream (path-based policy bypasses in Envoy, Pomerium, Tomcat-style "..;").
func CheckURI(uri string) error {
	switch {
	case uri == "":
		return errURIMissing
	case uri[0] != '/':
		return errURIForm // absolute-form, authority-form and "*" included
	case len(uri) > 1 && (uri[1] == '/' || uri[1] == '\\'):
		return errURISlashes
	}
	inPath := true
	seg := 0 // start of the current path segment
	for i := 0; i < len(uri); i++ {
		c := uri[i]
		switch {
		case c <= ' ' || c >= 0x7f || c == '#':
			return errURIByte
		case c == '%':
			if i+2 >= len(uri) || !isHex(uri[i+1]) || !isHex(uri[i+2]) {
				return errURIPercent
			}
			if inPath {
				switch hi, lo := uri[i+1], uri[i+2]|0x20; {
				case hi == '2' && lo == 'f', hi == '5' && lo == 'c', hi == '0' && lo == '0':
					return errURIEncoded
				}
			}
		case !inPath:
		case c == '\\':
			return errURIBackslsh
		case c == '/' || c == '?':
			if i > seg && (uri[seg] == '.' || uri[seg] == '%') && dotSegment(uri[seg:i]) {
				return errURIDots
			}
			seg = i + 1
			inPath = c == '/'
		}
	}
	if inPath && seg < len(uri) && dotSegment(uri[seg:]) {
		return errURIDots
	}
	return nil
}

// dotSegment reports whether a path segment is "." or "..", with its dots percent-encoded or not and
// ignoring ";params".
func dotSegment(s string) bool {
	if i := strings.IndexByte(s, ';'); i >= 0 {
		s = s[:i]
	}
	n := 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '.':
		case s[i] == '%' && i+2 < len(s) && s[i+1] == '2' && s[i+2]|0x20 == 'e':
			i += 2
		default:
			return false
		}
		n++
	}
	return n == 1 || n == 2
}
