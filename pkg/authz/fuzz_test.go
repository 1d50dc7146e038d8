package authz

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

// FuzzFindCookie checks the Cookie-header scanner: a value it returns is one whole pair's value (no ";"
// inside), a header where the name does not occur finds nothing, exactly one well-formed copy is found
// with its value whatever surrounds it, and cookieValue and cookieValues agree with findCookie.
func FuzzFindCookie(f *testing.F) {
	for _, h := range []string{
		"authbridge=abc", "a=1; authbridge=abc; b=2", "authbridge=a; authbridge=b", "authbridge =x", " authbridge=x",
		"x=1, authbridge=evil", "authbridge=\"quoted\"", "Authbridge=x; authbridge=y", "authbridge=a,authbridge=b",
		"authbridge", "=authbridge", ";;;", "authbridge=;", "a=b;authbridge=c=d", "authbridge\t=x", "x=\"a; authbridge=b\"",
	} {
		f.Add(h, "authbridge", "v")
	}
	f.Fuzz(func(t *testing.T, header, name, v string) {
		if name == "" || strings.ContainsAny(name, "=; \t,") {
			return
		}
		value, n := findCookie(header, name)
		if strings.Contains(value, ";") {
			t.Fatalf("findCookie(%q) = %q holds a separator", header, value)
		}
		if !strings.Contains(header, name) && (n != 0 || value != "") {
			t.Fatalf("findCookie(%q, %q) = %q, %d with no such name", header, name, value, n)
		}
		if got := cookieValue(header, name); n != 1 && got != "" || n == 1 && got != value {
			t.Fatalf("cookieValue(%q) = %q, findCookie = %q, %d", header, got, value, n)
		}
		if vs := cookieValues(header, name, 3); len(vs) > 3 || len(vs) > n || n >= 1 && len(vs) > 0 && vs[0] != value && value != "" {
			t.Fatalf("cookieValues(%q) = %q, findCookie = %q, %d", header, vs, value, n)
		}
		// One clean copy among other cookies is found, with its value.
		if strings.ContainsAny(v, ";,") || strings.Contains(header, name) || strings.ContainsAny(header, ",") {
			return
		}
		for _, h := range []string{name + "=" + v, header + "; " + name + "=" + v, name + "=" + v + "; " + header} {
			if got, n := findCookie(h, name); n != 1 || got != v {
				t.Fatalf("findCookie(%q, %q) = %q, %d; want %q, 1", h, name, got, n, v)
			}
		}
	})
}

// FuzzNormalizePath checks path normalisation: what it accepts is a clean absolute path (no empty,
// "." or ".." segment, no control character, backslash, ";" or "%" left), normalising it again changes
// nothing, and a path that needed no change comes back as it was.
func FuzzNormalizePath(f *testing.F) {
	for _, p := range []string{
		"/", "/a/b", "/a/b/", "/a//b", "/a/./b", "/a/../b", "/a/%2e%2e/b", "/%2e%2e/admin", "/a%2fb", "/a%5cb",
		"/a\\b", "/admin;x/users", "/admin%3bx", "/%2561dmin", "/a//../b", "/..;/admin", "/a?x=../..", "/a#../..",
		"a/b", "", "/%", "/%zz", "/%00", "/\x00", "/..", "/.", "/a/..", "/%41dmin", "//admin", "/a/b/../../..",
	} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		p, err := NormalizePath(uri)
		if err != nil {
			if err != ErrBadPath {
				t.Fatalf("NormalizePath(%q) error %v is not ErrBadPath", uri, err)
			}
			return
		}
		if p == "" || p[0] != '/' || strings.Contains(p, "//") || strings.ContainsAny(p, "\\;%") {
			t.Fatalf("NormalizePath(%q) = %q", uri, p)
		}
		for _, c := range []byte(p) {
			if c < 0x20 || c == 0x7f {
				t.Fatalf("NormalizePath(%q) = %q holds a control character", uri, p)
			}
		}
		for seg := range strings.SplitSeq(p[1:], "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("NormalizePath(%q) = %q keeps a dot-segment", uri, p)
			}
		}
		// A decoded "%3F" or "%23" is path data; read again as a URI it would start a query or fragment.
		if again, err := NormalizePath(p); !strings.ContainsAny(p, "?#") && (err != nil || again != p) {
			t.Fatalf("NormalizePath(%q) = %q, then %q, %v", uri, p, again, err)
		}
		if path := pathOf(uri); !strings.ContainsAny(path, "%") && !strings.Contains(path, "/.") && !strings.Contains(path, "//") && p != path {
			t.Fatalf("NormalizePath(%q) = %q changed a clean path", uri, p)
		}
	})
}

// FuzzIsNavigation checks the Accept/Sec-Fetch classifier: only a GET or HEAD navigates; a
// Sec-Fetch-Mode decides alone when sent; without it, an Accept that does not name text/html never
// navigates, and acceptQ never reports a type the header does not name.
func FuzzIsNavigation(f *testing.F) {
	for _, s := range [][3]string{
		{"GET", "", "text/html,application/xhtml+xml,*/*;q=0.8"}, {"GET", "navigate", "*/*"}, {"GET", "cors", "text/html"},
		{"POST", "navigate", "text/html"}, {"GET", "", "application/json, text/html;q=0.9"}, {"HEAD", "", "text/html;q=0"},
		{"GET", "", "text/html;q=NaN"}, {"GET", "", "text/html;q=1e9, application/json;q=inf"}, {"get", "", "text/html"},
		{"GET", "", "TEXT/HTML ; Q = 0.5"}, {"GET", "no-cors", ""}, {"GET", "", "text/html;level=1;q=-1"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, method, mode, accept string) {
		r := &Request{Method: method, FetchMode: mode, Accept: accept}
		nav := isNavigation(r)
		switch {
		case nav && method != "GET" && method != "HEAD":
			t.Fatalf("%s navigates", method)
		case mode != "" && (method == "GET" || method == "HEAD") && nav != (mode == "navigate"):
			t.Fatalf("Sec-Fetch-Mode %q: navigation %v", mode, nav)
		case mode == "" && nav && !strings.Contains(strings.ToLower(accept), "text/html"):
			t.Fatalf("Accept %q without text/html navigates", accept)
		}
		if !strings.Contains(strings.ToLower(accept), "application/json") && acceptQ(accept, "application/json") != 0 {
			t.Fatalf("acceptQ(%q, json) = %v", accept, acceptQ(accept, "application/json"))
		}
	})
}

// FuzzPendingOpen checks the sealed pre-auth login cookie. Any value that was not sealed by this key for
// this cookie name is refused (a forger has no key, so any byte changed in a sealed value is refused),
// and whatever plaintext the key opens — well-formed or not — is either refused or read back into
// exactly the fields that seal would write for it.
func FuzzPendingOpen(f *testing.F) {
	f.Add("state", "nonce", "verifier", "https://app.example.com/x", int64(1_764_000_000), []byte{}, uint16(0))
	f.Add("", "", "", "", int64(-1), []byte{1, 0x80, 0x80, 0x80, 0x80, 0x10}, uint16(5))
	f.Add("s", "n", "v", strings.Repeat("r", maxCleanReturn+1), int64(0), []byte{1, 1, 'a', 0, 0, 0}, uint16(40))
	s, err := newSealer([][]byte{bytes.Repeat([]byte("k"), 32)})
	if err != nil {
		f.Fatal(err)
	}
	const name = "authbridge-login-abcdefgh"
	f.Fuzz(func(t *testing.T, state, nonce, verifier, returnTo string, created int64, plain []byte, flip uint16) {
		p := &pendingLogin{State: state, Nonce: nonce, Verifier: verifier, ReturnTo: returnTo, Created: time.Unix(created, 0)}
		v, err := s.seal(name, p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.open(name, v)
		fits := len(v) <= maxPendingValue && max(len(state), len(nonce), len(verifier), len(returnTo)) <= maxCleanReturn
		switch {
		case fits && err != nil:
			t.Fatalf("a sealed login does not open: %v", err)
		case fits && (*got != *p || !got.Created.Equal(p.Created)):
			t.Fatalf("opened %+v, sealed %+v", got, p)
		case !fits && err == nil:
			t.Fatalf("an oversized login opened")
		}
		if _, err := s.open("authbridge-login-other", v); err == nil {
			t.Fatal("a value opened under another cookie name")
		}
		b := []byte(v)
		b[int(flip)%len(b)] ^= 1
		if _, err := s.open(name, string(b)); err == nil {
			t.Fatalf("a value with byte %d changed opened", int(flip)%len(b))
		}
		// Plaintext the key seals but seal did not write.
		aead := s.aeads[0]
		nonceBytes := make([]byte, aead.NonceSize())
		raw := append([]byte{pendingVersion}, plain...)
		sealed := aead.Seal(nonceBytes, nonceBytes, raw, []byte(name))
		q, err := s.open(name, base64.RawURLEncoding.EncodeToString(sealed))
		if err != nil {
			return
		}
		again, err := s.seal(name, q)
		if err != nil {
			t.Fatal(err)
		}
		r, err := s.open(name, again)
		if err != nil || *r != *q {
			t.Fatalf("plaintext %x opened as %+v, which does not seal back (%v)", raw, q, err)
		}
	})
}
