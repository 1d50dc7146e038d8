package authz_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/pkg/authz"
	"github.com/authbridge/authbridge/pkg/devidp"
	"github.com/authbridge/authbridge/pkg/session"
	"github.com/authbridge/authbridge/pkg/session/sessiontest"
)

// una has a preferred_username and an e-mail her provider has not verified.
var una = devidp.User{Username: "una", Password: "pw", Email: "carol@example.com", EmailUnverified: true,
	Groups: []string{"ops", "dev"}, Claims: map[string]any{"preferred_username": "una.u"}}

// userInfoRequest is a page's fetch('/oauth2/userinfo') on the app host.
func userInfoRequest(method, cookie string) *authz.Request {
	return &authz.Request{Front: "test", Method: method, Scheme: "https", Host: enginetest.AppHost, URI: authz.PathUserInfo,
		Accept: "*/*", FetchMode: "cors", FetchSite: "same-origin", Cookie: cookie}
}

// loginAs logs user in through an engine of its own over store and returns the session's Cookie header.
func loginAs(t *testing.T, store session.Store, user string) string {
	t.Helper()
	cookie, _ := enginetest.New(t, enginetest.Options{Store: store, AutoLogin: user, Users: []devidp.User{una}}).Login(t, "/")
	return cookie
}

// TestUserInfo is rule 9 at the engine: the identity of the one session cookie, from the session alone,
// and a 401 (never a redirect or a login start) for everything else.
func TestUserInfo(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{Users: []devidp.User{una}, Bearer: true,
		Engine: authz.Options{Policy: authz.Policy{EmailDomains: []string{"example.com"}}}})
	alice, _ := env.Login(t, "/")
	bob := loginAs(t, env.Store, enginetest.Bob.Username)
	unaCookie := loginAs(t, env.Store, una.Username)
	token, err := env.IDP.AccessToken(enginetest.ClientID, enginetest.Alice.Username, "openid")
	require.NoError(t, err)
	nav := func(cookie string) *authz.Request {
		r := enginetest.Navigate(authz.PathUserInfo, cookie)
		return r
	}
	withAuth := func(r *authz.Request, v string) *authz.Request { r.Authorization = v; return r }

	tests := []struct {
		name   string
		req    *authz.Request
		want   *authz.UserInfo
		status int // when want is nil
	}{
		{"alice", userInfoRequest("GET", alice), &authz.UserInfo{Subject: "auth0|alice", Email: "alice@example.com", Groups: []string{"admin"}}, 0},
		{"HEAD", userInfoRequest("HEAD", alice), &authz.UserInfo{Subject: "auth0|alice", Email: "alice@example.com", Groups: []string{"admin"}}, 0},
		{"a navigation gets the same JSON", nav(alice), &authz.UserInfo{Subject: "auth0|alice", Email: "alice@example.com", Groups: []string{"admin"}}, 0},
		{"bob, whom the policy refuses, still learns who he is", userInfoRequest("GET", bob), &authz.UserInfo{Subject: "auth0|bob", Email: "bob@other.test"}, 0},
		{"una: preferred username, unverified e-mail left out", userInfoRequest("GET", unaCookie), &authz.UserInfo{Subject: "auth0|una", PreferredUsername: "una.u", Groups: []string{"ops", "dev"}}, 0},
		{"the app's own cookies around the session", userInfoRequest("GET", "theme=dark; "+alice+"; lang=en"), &authz.UserInfo{Subject: "auth0|alice", Email: "alice@example.com", Groups: []string{"admin"}}, 0},

		{"no cookie", userInfoRequest("GET", ""), nil, http.StatusUnauthorized},
		{"no cookie, navigation: no login starts", nav(""), nil, http.StatusUnauthorized},
		{"two session cookies (alice, bob)", userInfoRequest("GET", alice+"; "+bob), nil, http.StatusUnauthorized},
		{"the same session cookie twice", userInfoRequest("GET", alice+"; "+alice), nil, http.StatusUnauthorized},
		{"session cookie folded after a comma", userInfoRequest("GET", "x=1, "+alice), nil, http.StatusUnauthorized},
		{"name in another case", userInfoRequest("GET", "Authbridge="+strings.TrimPrefix(alice, "authbridge=")), nil, http.StatusUnauthorized},
		{"malformed ticket", userInfoRequest("GET", "authbridge=not-a-ticket"), nil, http.StatusUnauthorized},
		{"a ticket no session has", userInfoRequest("GET", "authbridge="+newTicket(t)), nil, http.StatusUnauthorized},
		{"a valid bearer token is no session", withAuth(userInfoRequest("GET", ""), "Bearer "+token), nil, http.StatusUnauthorized},
		{"POST", userInfoRequest("POST", alice), nil, http.StatusMethodNotAllowed},
		{"OPTIONS preflight", userInfoRequest("OPTIONS", alice), nil, http.StatusMethodNotAllowed},
		{"oversized Cookie header", userInfoRequest("GET", alice+"; pad="+strings.Repeat("x", authz.MaxCookieHeader)), nil, http.StatusRequestHeaderFieldsTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, d, err := env.Engine.UserInfo(ctx, tt.req)
			require.NoError(t, err)
			if tt.want != nil {
				require.Nil(t, d)
				require.Equal(t, tt.want, u)
				return
			}
			require.Nil(t, u)
			require.Equal(t, authz.Deny, d.Outcome, "never a redirect")
			require.Equal(t, tt.status, d.Status)
			require.Empty(t, d.Location)
			require.Equal(t, "no-store", d.Header.Get("Cache-Control"))
			require.Empty(t, d.Header.Get("Access-Control-Allow-Origin"))
			for _, c := range d.Cookies {
				require.Equal(t, -1, c.MaxAge, "a 401 only ever clears a dead session cookie, never starts a login")
			}
			if tt.status == http.StatusUnauthorized {
				require.Equal(t, "application/json", d.Header.Get("Content-Type"))
				var body struct {
					Error    string `json:"error"`
					LoginURL string `json:"login_url"`
				}
				require.NoError(t, json.Unmarshal([]byte(d.Body), &body))
				require.Equal(t, "unauthenticated", body.Error)
				require.Equal(t, "https://"+enginetest.AppHost+"/oauth2/start?rd=%2F", body.LoginURL)
			}
		})
	}
}

// TestUserInfoSessionEnds: a session past its absolute lifetime, or whose refresh the provider
// refuses, is no session here either, and its cookie is cleared; a due refresh happens as on any request.
func TestUserInfoSessionEnds(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{TokenTTL: 10 * time.Minute})
	cookie, _ := env.Login(t, "/")
	env.Clock.Advance(20 * time.Minute) // the access token expired: refreshed
	u, d, err := env.Engine.UserInfo(ctx, userInfoRequest("GET", cookie))
	require.NoError(t, err)
	require.Nil(t, d)
	require.Equal(t, "auth0|alice", u.Subject)

	env.Clock.Advance(169 * time.Hour)
	u, d, err = env.Engine.UserInfo(ctx, userInfoRequest("GET", cookie))
	require.NoError(t, err)
	require.Nil(t, u)
	require.Equal(t, http.StatusUnauthorized, d.Status)
	requireClears(t, d.Cookies, true)
}

// TestUserInfoStoreDown: the engine cannot decide, and says so; it clears nothing.
func TestUserInfoStoreDown(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{Store: sessiontest.Down{}})
	u, d, err := env.Engine.UserInfo(ctx, userInfoRequest("GET", "authbridge="+newTicket(t)))
	require.Error(t, err)
	require.Nil(t, u)
	require.Nil(t, d)
}
