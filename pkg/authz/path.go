package authz

import (
	"errors"
	"strings"
)

// ErrBadPath is returned by NormalizePath for a request path that servers could read in different ways.
// The engine answers such a request 400 whenever the policy has routes, so that no trick that changes
// what the upstream serves can change which route applies.
var ErrBadPath = errors.New("authz: ambiguous or malformed request path")

// NormalizePath returns the path of uri (the query and fragment cut off) as the policy matches it:
// percent-decoded once, duplicate slashes merged, and dot-segments removed (RFC 3986 section 5.2.4, on
// the decoded path, so %2e%2e counts as ".."). A trailing slash is kept. The result is a substring of
// uri, with no allocation, when there is nothing to change.
//
// It refuses (ErrBadPath) what different servers read differently: an encoded separator (%2F, %5C), a
// raw backslash, NUL or any other control character (raw or encoded), a malformed escape, a dot-segment
// carrying path parameters ("..;x", which Tomcat reads as ".."), a ".." that would climb over an empty
// segment ("/a//../b" is "/a/b" to Envoy and "/b" to nginx and Go), and a path that does not start with
// "/". It also refuses path parameters anywhere (";", raw or %3B: Tomcat, Jetty and Spring serve
// "/admin;x/users" as "/admin/users", which would match no "/admin" route here) and a "%" that decoding
// leaves (%2561: an upstream that decodes again would serve "/admin" for "/%2561dmin"). Paths stay
// case-sensitive, as RFC 3986 and Envoy's route matching have them; an upstream that ignores case
// needs its routes written for every spelling, or a route on the whole host.
func NormalizePath(uri string) (string, error) {
	p := pathOf(uri)
	if p == "" || p[0] != '/' {
		return "", ErrBadPath
	}
	clean := true
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c < 0x20 || c == 0x7f || c == '\\' || c == ';':
			return "", ErrBadPath
		case c == '%':
			clean = false
		case c == '/' && i+1 < len(p) && (p[i+1] == '/' || p[i+1] == '.'):
			clean = false // "//", or a segment that may be "." or ".."
		}
	}
	if clean {
		return p, nil
	}
	dec, err := decodePath(p)
	if err != nil {
		return "", err
	}
	return removeDots(dec)
}

// decodePath percent-decodes p once, refusing encoded separators and control characters.
func decodePath(p string) ([]byte, error) {
	out := make([]byte, 0, len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '%' {
			if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
				return nil, ErrBadPath
			}
			c = unhex(p[i+1])<<4 | unhex(p[i+2])
			if c == '/' || c == '\\' || c < 0x20 || c == 0x7f || c == ';' || c == '%' {
				return nil, ErrBadPath
			}
			i += 2
		}
		out = append(out, c)
	}
	return out, nil
}

// removeDots merges duplicate slashes and removes dot-segments of the decoded path p, which starts with
// "/". It keeps the empty segments on its stack until the end, so that it can tell when a ".." would
// remove one: servers disagree on that case, and it is refused.
func removeDots(p []byte) (string, error) {
	segs := make([][]byte, 0, 8)
	rest := p[1:]
	trailing := false
	for {
		i := indexByte(rest, '/')
		seg := rest
		if i >= 0 {
			seg = rest[:i]
		}
		last := i < 0
		name := seg
		if j := indexByte(seg, ';'); j >= 0 {
			name = seg[:j]
		}
		switch {
		case string(name) == "." || string(name) == "..":
			if len(name) != len(seg) {
				return "", ErrBadPath // "..;jsessionid=x": a dot-segment to some servers only
			}
			if string(seg) == ".." && len(segs) > 0 {
				if len(segs[len(segs)-1]) == 0 {
					return "", ErrBadPath
				}
				segs = segs[:len(segs)-1]
			}
			trailing = last // "/a/." and "/a/.." name a directory
		default:
			segs = append(segs, seg)
			trailing = false
		}
		if last {
			break
		}
		rest = rest[i+1:]
	}
	var b strings.Builder
	b.Grow(len(p))
	for _, s := range segs {
		if len(s) == 0 {
			continue // duplicate slashes are merged
		}
		b.WriteByte('/')
		b.Write(s)
	}
	if b.Len() == 0 || trailing || (len(segs) > 0 && len(segs[len(segs)-1]) == 0) {
		b.WriteByte('/')
	}
	return b.String(), nil
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// hostOnly returns the host of a Host header or :authority without its port and without one trailing
// dot, as a substring (case is left to the comparison). "[::1]:8080" gives "[::1]".
func hostOnly(h string) string {
	if strings.HasPrefix(h, "[") {
		if i := strings.IndexByte(h, ']'); i >= 0 {
			return h[:i+1]
		}
		return h
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	return strings.TrimSuffix(h, ".")
}

// equalFold is strings.EqualFold for ASCII only: host names compare without Unicode case folding.
func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
