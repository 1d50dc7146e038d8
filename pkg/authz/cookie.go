package authz

import (
	"net/http"
	"strings"
)

// MaxCookieHeader is the longest Cookie header (a request's Cookie headers joined with "; ") the engine
// reads. A longer one is refused with 431 before any cookie is parsed or the store is asked, whatever the
// front (the HTTP listener allows 64 KiB of headers and gRPC 1 MiB messages). 8 KiB is what nginx accepts
// in one header line by default, and leaves room for the session cookie (under 100 bytes), four
// pending logins (maxPendingBytes) and the app's own cookies.
const MaxCookieHeader = 8 << 10

// cookieScanner walks the cookies of a Cookie header (RFC 6265 section 4.2.1: name=value pairs
// separated by ";"), allocating nothing.
type cookieScanner struct{ rest string }

// next returns the next pair: its name with the whitespace around it trimmed (spaced tells whether
// there was any after the name, which no browser sends), and its value exactly as sent. A pair without
// "=" is a nameless cookie (RFC 6265bis sends those as the value alone) and comes back with name "".
func (s *cookieScanner) next() (name, value string, spaced, ok bool) {
	if s.rest == "" {
		return "", "", false, false
	}
	var part string
	part, s.rest, _ = strings.Cut(s.rest, ";")
	k, v, found := strings.Cut(strings.TrimLeft(part, " \t"), "=")
	if !found {
		return "", "", false, true
	}
	name = strings.TrimRight(k, " \t")
	return name, v, len(name) != len(k), true
}

// findCookie returns the value of the cookie called name in a Cookie header, and how many cookies carry
// that name. Names are compared exactly: RFC 6265 names are case-sensitive and browsers keep
// "Authbridge" and "authbridge" apart, so a case variant is some other cookie (and does not let a
// sibling domain cancel a "__Host-" session by tossing "__host-…"). These count as well, and make the
// header ambiguous or the value unusable rather than being skipped:
//   - the name with whitespace before "=" (its value is returned as "", which is no ticket);
//   - the name after a "," inside another cookie's value: a proxy that joins Cookie headers as a list
//     (RFC 2965 syntax, or an HTTP/2 hop folding cookie crumbs with ", ") makes two cookies look like one.
func findCookie(header, name string) (value string, n int) {
	s := cookieScanner{rest: header}
	for {
		k, v, spaced, ok := s.next()
		if !ok {
			return value, n
		}
		if k == name {
			if n == 0 && !spaced {
				value = v
			}
			n++
		}
		if strings.IndexByte(v, ',') >= 0 {
			n += foldedCookies(v, name)
		}
	}
}

// foldedCookies counts the cookies called name after a "," in value.
func foldedCookies(value, name string) int {
	n := 0
	_, rest, _ := strings.Cut(value, ",")
	for rest != "" {
		var part string
		part, rest, _ = strings.Cut(rest, ",")
		k, _, found := strings.Cut(strings.TrimLeft(part, " \t"), "=")
		if found && strings.TrimRight(k, " \t") == name {
			n++
		}
	}
	return n
}

// cookieValue returns the value of the cookie called name if the header carries exactly one (see
// findCookie), and "" otherwise: two cookies of one name are never resolved by picking one.
func cookieValue(header, name string) string {
	v, n := findCookie(header, name)
	if n != 1 {
		return ""
	}
	return v
}

// cookieValues returns the values of up to limit cookies called name, spelled exactly so.
func cookieValues(header, name string, limit int) []string {
	var vs []string
	s := cookieScanner{rest: header}
	for len(vs) < limit {
		k, v, spaced, ok := s.next()
		if !ok {
			break
		}
		if k == name && !spaced {
			vs = append(vs, v)
		}
	}
	return vs
}

// forget adds to d the cookie that deletes the session cookie, for a request whose one session cookie
// names no usable session (malformed, not in the store, expired, refused at refresh): the browser
// stops sending it. Never for an error (the store may be fine in a moment), never for an allowed
// request, and never when the request carried several session cookies: a delete with our attributes
// would remove the genuine cookie and leave the one a sibling domain tossed in.
func (e *Engine) forget(d *Decision, err error) (*Decision, error) {
	if err != nil || d == nil || d.Outcome == Allow {
		return d, err
	}
	return withCookie(d, e.cookie(e.o.Cookie.Name, "", -1)), nil
}

// cookieTooLarge refuses a request whose Cookie header is over MaxCookieHeader. Nothing is set: the
// cookies that make it large are not all ours to clear.
func cookieTooLarge() *Decision {
	return deny(http.StatusRequestHeaderFieldsTooLarge, "the Cookie header is too large; delete this site's cookies and try again\n",
		"text/plain; charset=utf-8", "cookie header too large")
}
