package authz

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// testDomains is the allowlist of the return-URL tables: one entry of every kind.
var testDomains = Domains{
	"app.example.com", ".corp.example", "alt.example.com:8443", ".ports.example:9443", "127.0.0.1",
	"[::1]:8443", "xn--bcher-kva.example", "2130706433",
}

// TestDomainsClean is rule 4 of issue 11 at the unit: one row per trick, from RFC 3986, the WHATWG URL
// parser's habits and oauth2-proxy's rd advisories (CVE-2021-21291 and friends). want "" is refused.
func TestDomainsClean(t *testing.T) {
	const (
		app   = "https://app.example.com"
		plain = "http://app.example.com"
	)
	tests := []struct{ name, raw, base, want string }{
		// A path stays on the request's own origin, listed or not.
		{"relative path", "/a/b?c=d", app, app + "/a/b?c=d"},
		{"relative root", "/", app, app + "/"},
		{"relative on an unlisted host (review: rd=/ok on the auth host)", "/ok", "https://auth.other.test", "https://auth.other.test/ok"},
		{"relative keeps the request's port", "/x", "https://unlisted.test:8443", "https://unlisted.test:8443/x"},
		{"relative on an http request", "/x", plain, plain + "/x"},
		{"relative, base default port dropped", "/x", "https://APP.example.com:443", app + "/x"},
		{"relative, base not an origin", "/x", "https://evil.com/@app.example.com", ""},
		{"relative, base with user info", "/x", "https://evil.com@app.example.com", ""},
		{"relative, base numeric spelling", "/x", "https://0x7f.1", ""},
		{"relative, base dotted quad", "/x", "http://127.0.0.1:4180", "http://127.0.0.1:4180/x"},
		{"relative, base not http", "/x", "javascript://app.example.com", ""},
		{"relative, no base", "/x", "", ""},
		{"protocol relative", "//evil.com", app, ""},
		{"triple slash", "///evil.com", app, ""},
		{"backslash (CVE-2021-21291)", "/\\evil.com", app, ""},
		{"backslash after slashes", "//\\evil.com", app, ""},
		{"tab, decoded (CVE-2021-21291 /%09/)", "/\t/evil.com", app, ""},
		{"tab, still encoded", "/%09/evil.com", app, ""},
		{"encoded slashes", "/%2F%2Fevil.com", app, ""},
		{"encoded backslash", "/%5Cevil.com", app, ""},
		{"CRLF decoded", "/a\r\nSet-Cookie: x=y", app, ""},
		{"CRLF encoded (%0d%0a)", "/a%0d%0aSet-Cookie:x=y", app, ""},
		{"NUL encoded", "/a%00b", app, ""},
		{"space", "/search?q=a b", app, ""},
		{"malformed escape", "/x?a=%zz", app, ""},
		{"truncated escape", "/x%4", app, ""},
		{"fragment kept", "/ok#frag", app, app + "/ok#frag"},
		{"fragment cannot move the host", "/ok#//evil.com", app, app + "/ok#//evil.com"},
		{"unicode path encoded", "/café?q=é", app, app + "/caf%C3%A9?q=%C3%A9"},
		{"markup in query encoded", "/x?a=<script>", app, app + "/x?a=%3Cscript%3E"},
		{"dot segments stay on the host", "/../../evil.com", app, app + "/../../evil.com"},
		{"overlong", "/" + strings.Repeat("a", 2*MaxReturnURL), app, ""},
		{"empty", "", app, ""},

		// Absolute: same host or listed, https unless the request was http, default port unless listed.
		{"same host", app + "/x", app, app + "/x"},
		{"scheme and host upper case", "HTTPS://APP.EXAMPLE.COM", app, app + "/"},
		{"host upper case, path case kept", "https://APP.example.com/Path", app, app + "/Path"},
		{"explicit default port", "https://app.example.com:443/x", app, app + "/x"},
		{"query without path", "https://app.example.com?next=1", app, app + "/?next=1"},
		{"fragment", "https://app.example.com/x#y", app, app + "/x#y"},
		{"userinfo-looking fragment", "https://app.example.com#@evil.com", app, app + "/#@evil.com"},
		{"unlisted port", "https://app.example.com:8443/x", app, ""},
		{"empty port", "https://app.example.com:/x", app, ""},
		{"port with leading zero", "https://app.example.com:0443/x", app, ""},
		{"port out of range", "https://app.example.com:65536/x", app, ""},
		{"two ports", "https://app.example.com:443:443/x", app, ""},
		{"downgrade to http", "http://app.example.com/x", app, ""},
		{"http on an http request", "http://app.example.com/x", plain, plain + "/x"},
		{"upgrade to https", "https://app.example.com/x", plain, app + "/x"},
		{"review: http://127.0.0.1:9999/steal, https request", "http://127.0.0.1:9999/steal", "https://127.0.0.1", ""},
		{"review: http://127.0.0.1:9999/steal, http request", "http://127.0.0.1:9999/steal", "http://127.0.0.1", ""},
		{"review: https://127.0.0.1:9999/steal", "https://127.0.0.1:9999/steal", "https://127.0.0.1:8443", ""},
		{"listed IP, default port", "http://127.0.0.1/ok", "http://127.0.0.1", "http://127.0.0.1/ok"},
		{"same origin on an unlisted port", "https://unlisted.test:8443/x", "https://unlisted.test:8443", "https://unlisted.test:8443/x"},
		{"same host, other unlisted port", "https://unlisted.test:9999/x", "https://unlisted.test:8443", ""},
		{"same host, other scheme's port", "https://unlisted.test:8443/x", "http://unlisted.test:8443", ""},
		{"listed port", "https://alt.example.com:8443/x", app, "https://alt.example.com:8443/x"},
		{"listed port only", "https://alt.example.com/x", app, ""},
		{"listed port, downgrade", "http://alt.example.com:8443/x", app, ""},
		{"listed port on a dotted entry", "https://a.ports.example:9443/", app, "https://a.ports.example:9443/"},
		{"dotted entry with port, default port", "https://a.ports.example/", app, ""},
		{"subdomain of dotted entry", "https://a.b.corp.example/", app, "https://a.b.corp.example/"},
		{"dotted entry's apex", "https://corp.example/", app, "https://corp.example/"},
		{"exact entry has no subdomains", "https://x.app.example.com/", app, ""},
		{"suffix trick", "https://evilcorp.example/", app, ""},
		{"listed host as a prefix", "https://app.example.com.evil.com/", app, ""},
		{"listed host as a prefix, http", "http://app.example.com.evil.com", plain, ""},
		{"trailing dot", "https://app.example.com./", app, ""},
		{"trailing dot on dotted entry", "https://a.corp.example./", app, ""},
		{"userinfo", "https://app.example.com@evil.com/", app, ""},
		{"userinfo, http", "http://app.example.com@evil.com", plain, ""},
		{"userinfo on the allowed host", "https://user@app.example.com/", app, ""},
		{"userinfo with default port", "https://app.example.com:443@evil.com", app, ""},
		{"backslash before @", "https://evil.com\\@app.example.com", app, ""},
		{"fragment before the listed host", "https://evil.com#@app.example.com", app, ""},
		{"query before the listed host", "https://evil.com?@app.example.com", app, ""},
		{"double slash path", "https://app.example.com//evil.com", app, ""},
		{"other host", "https://evil.com/", app, ""},
		{"scheme without slashes", "https:evil.com", app, ""},
		{"scheme with one slash", "https:/evil.com", app, ""},
		{"scheme with three slashes", "https:///evil.com", app, ""},
		{"scheme with backslashes", "https:\\\\evil.com", app, ""},
		{"javascript", "javascript:alert(1)", app, ""},
		{"javascript with authority", "JaVaScRiPt://app.example.com/%0aalert(1)", app, ""},
		{"data", "data:text/html,hi", app, ""},
		{"ftp", "ftp://app.example.com/", app, ""},
		{"no scheme", "app.example.com/x", app, ""},
		{"tab in scheme", "ht\ttps://app.example.com/", app, ""},
		{"percent-encoded host", "https://%61pp.example.com/", app, ""},
		{"percent-encoded host, no scheme", "%61pp.example.com", app, ""},
		{"percent-encoded dot", "https://app%2eexample.com/", app, ""},
		{"CRLF in host", "https://app.example.com%0d%0a/", app, ""},
		{"homoglyph host (Cyrillic a)", "https://аpp.example.com/", app, ""},
		{"fullwidth host", "https://ａpp.example.com/", app, ""},
		{"ideographic full stop", "https://app.example.com。evil.com/", app, ""},
		{"raw IDN even when its punycode is listed", "https://bücher.example/", app, ""},
		{"listed punycode", "https://xn--bcher-kva.example/", app, "https://xn--bcher-kva.example/"},
		{"unlisted punycode", "https://xn--pple-43d.com/", app, ""},
		{"underscore", "https://app_1.example.com/", app, ""},
		{"label too long", "https://" + strings.Repeat("a", 64) + ".corp.example/", app, ""},
		{"listed dotted quad", "https://127.0.0.1/", app, "https://127.0.0.1/"},
		{"numeric exactly listed", "https://2130706433/", app, "https://2130706433/"},
		{"decimal IPv4", "https://2130706432/", app, ""},
		{"hex IPv4", "https://0x7f.1/", app, ""},
		{"hex IPv4 one label", "https://0x7f000001/", app, ""},
		{"short IPv4", "https://127.1/", app, ""},
		{"octal IPv4", "https://0177.0.0.1/", app, ""},
		{"zero-padded IPv4", "https://127.000.0.1/", app, ""},
		{"IPv4 under a dotted entry", "https://1.2.3.4.corp.example/", app, "https://1.2.3.4.corp.example/"},
		{"listed IPv6 with its port", "https://[::1]:8443/x", app, "https://[::1]:8443/x"},
		{"listed IPv6, default port", "https://[::1]/x", app, ""},
		{"IPv6 other spelling", "https://[0:0::1]:8443/", app, ""},
		{"IPv6 zone", "https://[fe80::1%25eth0]/", app, ""},
		{"IPv4-mapped IPv6", "https://[::ffff:127.0.0.1]/", app, ""},
		{"IPv6 unclosed", "https://[::1:8443/", app, ""},
		{"IPv6 junk after bracket", "https://[::1]x/", app, ""},
		{"bare IPv6", "https://::1/", app, ""},
		// Unparseable authorities end the string: nothing after them to stop a parser that reads on.
		{"IPv6 unclosed at the end", "https://[::1", app, ""},
		{"IPv6 unclosed, listed port", "https://[::1:8443", app, ""},
		{"bracket alone", "https://[", app, ""},
		{"empty brackets", "https://[]/", app, ""},
		{"IPv6 then colon, no port", "https://[::1]:/", app, ""},
		{"listed IPv6, no path", "https://[::1]:8443", app, "https://[::1]:8443/"},
		{"empty authority", "https:///x", app, ""},
		{"port alone", "https://:443/", app, ""},
		{"port not a number", "https://app.example.com:x/", app, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, testDomains.Clean(tt.raw, tt.base))
		})
	}
}

func TestDomainsAllows(t *testing.T) {
	tests := []struct {
		name string
		d    Domains
		host string
		want bool
	}{
		{"exact", testDomains, "app.example.com", true},
		{"case", testDomains, "APP.Example.COM", true},
		{"entry with a port names its host", testDomains, "alt.example.com", true},
		{"dotted subdomain", testDomains, "x.corp.example", true},
		{"trailing dot", testDomains, "app.example.com.", false},
		{"unicode", testDomains, "bücher.example", false},
		{"punycode", testDomains, "xn--bcher-kva.example", true},
		{"listed IPv6 bare", testDomains, "::1", true},
		{"listed IPv6 bracketed", testDomains, "[::1]", true},
		{"numeric spelling", testDomains, "0x7f.1", false},
		{"dotted entry never matches an IP", Domains{".0.0.1"}, "127.0.0.1", false},
		{"invalid entry ignored", Domains{"https://app.example.com"}, "app.example.com", false},
		{"empty", testDomains, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.d.Allows(tt.host))
		})
	}
}
