package forwardauth_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/pkg/authz"
)

// fetchUserInfo is a page's fetch('/oauth2/userinfo') as the gateway proxies it to the browser listener,
// with the page's extra headers.
func fetchUserInfo(method, cookie string, extra http.Header) *http.Request {
	r := direct(authz.PathUserInfo, xhr(cookie))
	r.Method = method
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	return withHeaders(r, extra)
}

// TestUserInfoEndpoint is rule 9 through the browser-facing front, with the attacks on it: who the one
// session cookie belongs to, as JSON, and nothing a client can forge, borrow or read cross-site.
func TestUserInfoEndpoint(t *testing.T) {
	env, h := front(t, enginetest.Options{AutoLogin: enginetest.Alice.Username})
	alice, _ := login(t, env, h, "/")
	signedOut, _ := login(t, env, h, "/")
	rec := serve(h, direct("/oauth2/sign_out", http.Header{"Cookie": {signedOut}, "Sec-Fetch-Site": {"same-origin"}, "Origin": {appURL}}))
	require.Equal(t, http.StatusFound, rec.Code, rec.Body.String())
	// Alice's access token, to prove that no answer carries it.
	rec = serve(h, traefik("GET", "/api", xhr(alice)))
	require.Equal(t, http.StatusOK, rec.Code)
	token := strings.TrimPrefix(rec.Header().Get("Authorization"), "Bearer ")
	require.NotEmpty(t, token)
	aliceJSON := `{"user":"auth0|alice","email":"alice@example.com","groups":["admin"]}` + "\n"
	value := strings.TrimPrefix(alice, "authbridge=")

	tests := []struct {
		name     string
		req      *http.Request
		status   int
		wantBody string // exact, when set
	}{
		{"alice", fetchUserInfo("GET", alice, nil), http.StatusOK, aliceJSON},
		{"HEAD", fetchUserInfo("HEAD", alice, nil), http.StatusOK, ""},
		{"a navigation: JSON too, no login", withHeaders(direct(authz.PathUserInfo, nav(alice)), nil), http.StatusOK, aliceJSON},
		{"forged identity headers are ignored", fetchUserInfo("GET", alice, http.Header{
			"X-Forwarded-User": {"auth0|mallory"}, "X-Auth-Request-User": {"auth0|mallory"},
			"X-Auth-Request-Email": {"mallory@example.com"}, "X-Forwarded-Email": {"mallory@example.com"},
			"X-Forwarded-Preferred-Username": {"mallory"}, "X-Forwarded-Groups": {"admin"},
		}), http.StatusOK, aliceJSON},
		{"cross-site fetch: answered, but with no CORS grant the page cannot read it", fetchUserInfo("GET", alice, http.Header{
			"Origin": {"https://evil.example"}, "Sec-Fetch-Site": {"cross-site"},
		}), http.StatusOK, aliceJSON},

		{"forged identity headers without a session", fetchUserInfo("GET", "", http.Header{
			"X-Forwarded-User": {"auth0|alice"}, "X-Auth-Request-User": {"auth0|alice"}, "X-Auth-Request-Email": {"alice@example.com"},
		}), http.StatusUnauthorized, ""},
		{"no cookie", fetchUserInfo("GET", "", nil), http.StatusUnauthorized, ""},
		{"no cookie, navigation", direct(authz.PathUserInfo, nav("")), http.StatusUnauthorized, ""},
		{"duplicate session cookies", fetchUserInfo("GET", alice+"; "+alice, nil), http.StatusUnauthorized, ""},
		{"two Cookie headers", fetchUserInfo("GET", "", http.Header{"Cookie": {alice, alice}}), http.StatusUnauthorized, ""},
		{"cookie of a signed-out session", fetchUserInfo("GET", signedOut, nil), http.StatusUnauthorized, ""},
		{"cookie of another session's shape", fetchUserInfo("GET", "authbridge="+value[:len(value)-2]+"AA", nil), http.StatusUnauthorized, ""},
		{"session value in another cookie's name", fetchUserInfo("GET", "__Host-authbridge="+value, nil), http.StatusUnauthorized, ""},
		{"Authorization without a cookie", fetchUserInfo("GET", "", http.Header{"Authorization": {"Bearer " + token}}), http.StatusUnauthorized, ""},
		{"X-Forwarded-Host twice", fetchUserInfo("GET", alice, http.Header{"X-Forwarded-Host": {enginetest.AppHost, "evil.example"}}), http.StatusBadRequest, ""},
		{"POST", fetchUserInfo("POST", alice, nil), http.StatusMethodNotAllowed, ""},
		{"CORS preflight", fetchUserInfo("OPTIONS", "", http.Header{"Origin": {"https://evil.example"}, "Access-Control-Request-Method": {"GET"}}), http.StatusMethodNotAllowed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(h, tt.req)
			require.Equal(t, tt.status, rec.Code, rec.Body.String())
			hdr := rec.Header()
			require.Equal(t, "no-store", hdr.Get("Cache-Control"))
			require.Equal(t, "nosniff", hdr.Get("X-Content-Type-Options"))
			for k := range hdr {
				require.False(t, strings.HasPrefix(k, "Access-Control-"), "no CORS grant: %s", k)
			}
			require.Empty(t, hdr.Get("Location"), "never a redirect")
			require.Empty(t, hdr["Authorization"])
			for k, vs := range hdr {
				for _, v := range vs {
					require.NotContains(t, v, token, k)
					require.False(t, strings.HasPrefix(v, "authbridge-login-"), "never a login start: %s", k)
				}
			}
			require.NotContains(t, rec.Body.String(), token)
			require.NotContains(t, rec.Body.String(), value)
			switch {
			case tt.wantBody != "":
				require.Equal(t, "application/json", hdr.Get("Content-Type"))
				require.Equal(t, tt.wantBody, rec.Body.String())
				require.Empty(t, hdr.Values("Set-Cookie"))
			case tt.status == http.StatusUnauthorized:
				require.Equal(t, "application/json", hdr.Get("Content-Type"))
				var b loginBody
				require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &b))
				require.Equal(t, "unauthenticated", b.Error)
				require.Equal(t, appURL+"/oauth2/start?rd=%2F", b.LoginURL)
			}
		})
	}
}
