package authz

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestIsNavigation(t *testing.T) {
	tests := []struct {
		name                     string
		method, accept, fetchMod string
		want                     bool
	}{
		{"chrome navigation", "GET", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "navigate", true},
		{"old browser without fetch metadata", "GET", "text/html,*/*;q=0.8", "", true},
		{"fetch default accept", "GET", "*/*", "cors", false},
		{"fetch with html accept", "GET", "text/html", "cors", false},
		{"same-origin XHR", "GET", "application/json", "same-origin", false},
		{"curl", "GET", "*/*", "", false},
		{"json preferred", "GET", "application/json, text/html;q=0.1", "", false},
		{"html refused", "GET", "text/html;q=0", "", false},
		{"POST navigation", "POST", "text/html", "navigate", false},
		{"HEAD", "HEAD", "text/html", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, isNavigation(&Request{Method: tt.method, Accept: tt.accept, FetchMode: tt.fetchMod}))
		})
	}
}

func TestCookieValue(t *testing.T) {
	tests := []struct{ header, name, want string }{
		{"a=1; authbridge=xyz; b=2", "authbridge", "xyz"},
		{"authbridge=xyz", "authbridge", "xyz"},
		{"authbridge-login=l; authbridge=s", "authbridge", "s"},
		{"authbridge=s; authbridge-login=l", "authbridge-login", "l"},
		{"xauthbridge=no", "authbridge", ""},
		{"authbridge=\"q\"", "authbridge", "\"q\""}, // RFC 6265: the quotes are part of the value
		{"", "authbridge", ""},
		{"authbridge", "authbridge", ""},
		{"authbridge=a; authbridge=b", "authbridge", ""},
		{"authbridge=a, authbridge=b", "authbridge", ""},
		{"x=1, authbridge=b; authbridge=a", "authbridge", ""},
		{"authbridge =a", "authbridge", ""},
		{"Authbridge=b; authbridge=a", "authbridge", "a"},
		{"authbridge=a; authbridge-login-AAAAAAAA=b", "authbridge", "a"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, cookieValue(tt.header, tt.name), tt.header)
	}
}

func TestIsIdentityHeader(t *testing.T) {
	for _, h := range []string{"Authorization", "authorization", "AUTHORIZATION", "X-Auth-Request-User", "x-auth-request-user",
		"x_auth_request_user", "X.Auth.Request.User", "x-auth_request.email", "X-Auth-Request-Email",
		"X-Auth-Request-Groups", "X-Auth-Request-Preferred-Username", "x_auth_request_access_token", "X-Auth-Request-Anything",
		"X-Forwarded-User", "x_forwarded_email", "X-Forwarded-Groups", "X-Forwarded-Preferred-Username", "X-Forwarded-Access-Token",
		"Remote-User", "REMOTE_USER", "remote.groups", "Remote-Email", "Remote-Name",
		"X-Pomerium-Jwt-Assertion", "X-Pomerium-Claim-Email", "x_pomerium_claim_groups",
		"X-Remote-User", "X-Remote-Group", "X-Remote-Extra-Scopes", "X-WEBAUTH-USER", "X-Authenticated-Userid", "X-Userinfo",
		"X-User", "X-Email", "X-Amzn-Oidc-Data", "X-Goog-Authenticated-User-Email", "X-MS-CLIENT-PRINCIPAL-NAME"} {
		require.True(t, IsIdentityHeader(h), h)
	}
	for _, h := range []string{"x-auth-request", "x-auth-request-", "authorizations", "cookie", "x-forwarded-for",
		"x-forwarded-proto", "x-forwarded-host", "x-forwarded-uri", "x-request-id", "x-users", "remote-addr", "accept",
		"proxy-authorization", "x-pomerium-claim-", "", strings.Repeat("x-auth-request-user", 5)} {
		require.False(t, IsIdentityHeader(h), h)
	}
	// Every listed name matches in its canonical, upper, '_' and '.' spellings.
	names, prefixes := TrustedIdentityHeaders()
	for _, n := range append(names, prefixes...) {
		if strings.HasSuffix(n, "-") {
			n += "x"
		}
		for _, v := range []string{n, strings.ToUpper(n), strings.ReplaceAll(n, "-", "_"), strings.ReplaceAll(n, "-", "."), http.CanonicalHeaderKey(n)} {
			require.True(t, IsIdentityHeader(v), v)
		}
	}
}

func BenchmarkIsIdentityHeader(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = IsIdentityHeader("X-Forwarded-Proto") || IsIdentityHeader("x_auth_request_user")
	}
}
