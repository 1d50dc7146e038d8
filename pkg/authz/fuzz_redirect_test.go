package authz

import (
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// fuzzDomains is the allowlist of FuzzClean: names, a subdomain wildcard, a port-bound entry and an IP.
var fuzzDomains = Domains{"app.example.com", ".corp.example", "alt.example.com:8443", "127.0.0.1", "[::1]:8443"}

// fuzzBases are the request origins FuzzClean picks from.
var fuzzBases = []string{"https://app.example.com", "http://app.example.com", "https://auth.other.test:8443", "", "https://evil.com@app.example.com"}

// FuzzClean checks the return-URL cleaner against a browser. Whatever Clean accepts must, resolved the
// way a browser resolves a Location header (browserResolve, written from the WHATWG URL standard rather
// than from Clean), land on the request's own origin or on a listed host and port, over https unless the
// request itself was plain http; and the browser must read the raw input as going to that same place, so
// that the cleaner's idea of the target and the browser's never differ. Its output is a fixed point.
func FuzzClean(f *testing.F) {
	for _, s := range []string{
		"/", "/a/b?c=d#e", "https://app.example.com/x", "https://x.corp.example:443/", "https://alt.example.com:8443/",
		"http://app.example.com/", "https://127.0.0.1/", "https://[::1]:8443/x", "https://[::1", "//evil.com",
		"/\\evil.com", "https:evil.com", "https://evil.com\\@app.example.com/", "https://app.example.com@evil.com/",
		"https://app.example.com%2f@evil.com/", "https://0x7f.1/", "https://app.example.com./", "/%2f%2fevil.com",
		"\t//evil.com", "https://app.example.com:443@evil.com", "javascript://app.example.com/%0aalert(1)",
		"https://APP.EXAMPLE.COM:443/%7e?q=a b", "/x?rd=//evil.com#//evil.com", "https://xn--pple-43d.com/",
	} {
		for i := range fuzzBases {
			f.Add(s, uint8(i))
		}
	}
	f.Fuzz(func(t *testing.T, raw string, bi uint8) {
		base := fuzzBases[int(bi)%len(fuzzBases)]
		out := fuzzDomains.Clean(raw, base)
		if out == "" {
			return
		}
		got, ok := browserResolve(out, base)
		if !ok {
			t.Fatalf("Clean(%q, %q) = %q, which a browser does not read as an http(s) URL", raw, base, out)
		}
		if !allowedTarget(got, base) {
			t.Fatalf("Clean(%q, %q) = %q: a browser goes to %s://%s:%s, neither the request's origin nor listed", raw, base, out, got.scheme, got.host, got.port)
		}
		if b, ok := browserResolve(base+"/", base); ok && b.scheme == "https" && got.scheme != "https" {
			t.Fatalf("Clean(%q, %q) = %q downgrades to http", raw, base, out)
		}
		if want, ok := browserResolve(raw, base); !ok || want != got {
			t.Fatalf("Clean(%q, %q) = %q goes to %+v; the browser reads the input as %+v (ok %v)", raw, base, out, got, want, ok)
		}
		if u, err := url.Parse(out); err != nil || !u.IsAbs() || u.User != nil || u.Opaque != "" {
			t.Fatalf("Clean(%q, %q) = %q is not a plain absolute URL (%v)", raw, base, out, err)
		}
		if again := fuzzDomains.Clean(out, base); again != out {
			t.Fatalf("Clean(%q) = %q, but Clean of that = %q", raw, out, again)
		}
	})
}

// target is where a browser goes: scheme, host as the browser serialises it, and port (explicit, never
// empty).
type target struct{ scheme, host, port string }

// allowedTarget is the cleaner's contract written out independently: the request's own origin, or a
// listed host on the port its entry names (the default port when it names none).
func allowedTarget(got target, base string) bool {
	if b, ok := browserResolve(base+"/", base); ok && base != "" && b == got {
		return true
	}
	if b, ok := browserResolve(base+"/", base); ok && base != "" && b.host == got.host && got.port == defaultPort(got.scheme) {
		return true // the request's own host, on the scheme's default port
	}
	switch {
	case got.host == "app.example.com", got.host == "corp.example", strings.HasSuffix(got.host, ".corp.example"),
		got.host == "127.0.0.1":
		return got.port == defaultPort(got.scheme)
	case got.host == "alt.example.com", got.host == "[::1]":
		return got.port == "8443"
	}
	return false
}

// browserResolve resolves loc against base as a browser follows a Location header (WHATWG URL standard,
// "basic URL parser"): leading and trailing C0 controls and spaces are stripped, tabs and newlines
// removed anywhere; for http(s) a backslash is a slash and any run of slashes starts the authority; the
// authority's user info is dropped; the host is percent-decoded, lower-cased and an IPv4 address in any
// spelling becomes a dotted quad. ok is false when the result is not an http(s) URL with a valid host.
func browserResolve(loc, base string) (target, bool) {
	loc = strings.TrimFunc(loc, func(r rune) bool { return r <= ' ' })
	loc = strings.NewReplacer("\t", "", "\n", "", "\r", "").Replace(loc)
	var b target
	haveBase := false
	if base != "" && base != loc {
		if bt, ok := browserResolve(base+"/", ""); ok {
			b, haveBase = bt, true
		}
	}
	scheme, rest, hasScheme := "", loc, false
	if i := strings.IndexByte(loc, ':'); i > 0 && validSchemeName(loc[:i]) {
		scheme, rest, hasScheme = strings.ToLower(loc[:i]), loc[i+1:], true
	}
	if hasScheme && scheme != "http" && scheme != "https" {
		return target{}, false
	}
	if !hasScheme {
		if !haveBase {
			return target{}, false
		}
		scheme = b.scheme
	}
	// In a special URL a backslash before the query or fragment is a slash.
	end := strings.IndexAny(rest, "?#")
	if end < 0 {
		end = len(rest)
	}
	rest = strings.ReplaceAll(rest[:end], "\\", "/") + rest[end:]
	switch {
	case strings.HasPrefix(rest, "//"), hasScheme && (!haveBase || scheme != b.scheme):
		// "special authority ignore slashes": every leading slash is skipped, then the authority.
		rest = strings.TrimLeft(rest, "/")
	default:
		// Relative to base: same host and port.
		if !haveBase {
			return target{}, false
		}
		return b, true
	}
	auth := rest
	if i := strings.IndexAny(auth, "/?#"); i >= 0 {
		auth = auth[:i]
	}
	if i := strings.LastIndexByte(auth, '@'); i >= 0 {
		auth = auth[i+1:]
	}
	host, port := auth, ""
	if strings.HasPrefix(auth, "[") {
		i := strings.IndexByte(auth, ']')
		if i < 0 {
			return target{}, false
		}
		host, port = auth[:i+1], auth[i+1:]
		a, err := netip.ParseAddr(host[1 : len(host)-1])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return target{}, false
		}
		host = "[" + a.String() + "]"
		if port != "" && port[0] != ':' {
			return target{}, false
		}
	} else if i := strings.LastIndexByte(auth, ':'); i >= 0 {
		host, port = auth[:i], auth[i:]
	}
	port = strings.TrimPrefix(port, ":")
	if port == "" {
		port = defaultPort(scheme)
	} else {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			return target{}, false
		}
		port = strconv.FormatUint(n, 10)
	}
	if !strings.HasPrefix(host, "[") {
		h, err := url.PathUnescape(host)
		if err != nil || h == "" {
			return target{}, false
		}
		h = strings.ToLower(h)
		for i := 0; i < len(h); i++ {
			if c := h[i]; c <= ' ' || c >= 0x7f || strings.IndexByte("#%/:<>?@[\\]^|", c) >= 0 {
				return target{}, false // forbidden host code points (non-ASCII would need IDNA: treat as foreign)
			}
		}
		if v4, ok := ipv4Number(h); ok {
			h = v4
		}
		host = h
	}
	return target{scheme: scheme, host: host, port: port}, true
}

func validSchemeName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		alpha := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !alpha && (i == 0 || !(c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return s != ""
}

// ipv4Number applies the WHATWG IPv4 parser: a host whose last label is numeric is an IPv4 address in
// decimal, octal (leading 0) or hex (0x) parts, serialised as a dotted quad.
func ipv4Number(h string) (string, bool) {
	parts := strings.Split(strings.TrimSuffix(h, "."), ".")
	if !numericPart(parts[len(parts)-1]) || len(parts) > 4 {
		return "", false
	}
	var nums []uint64
	for _, p := range parts {
		n, ok := parseIPv4Part(p)
		if !ok {
			return "", false
		}
		nums = append(nums, n)
	}
	var v uint64
	for i, n := range nums[:len(nums)-1] {
		if n > 255 {
			return "", false
		}
		v |= n << (8 * (3 - i))
	}
	last := nums[len(nums)-1]
	if last >= 1<<(8*(5-len(nums))) {
		return "", false
	}
	v |= last
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).String(), true
}

func numericPart(p string) bool {
	if x, ok := strings.CutPrefix(p, "0x"); ok {
		return strings.Trim(x, "0123456789abcdef") == ""
	}
	return p != "" && strings.Trim(p, "0123456789") == ""
}

func parseIPv4Part(p string) (uint64, bool) {
	if p == "" {
		return 0, false
	}
	b := 10
	switch {
	case strings.HasPrefix(p, "0x"):
		p, b = p[2:], 16
	case len(p) > 1 && p[0] == '0':
		p, b = p[1:], 8
	}
	if p == "" {
		return 0, true
	}
	n, err := strconv.ParseUint(p, b, 64)
	return n, err == nil && n <= 1<<32
}
