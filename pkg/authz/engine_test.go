package authz_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/pkg/authz"
	"github.com/authbridge/authbridge/pkg/session"
	"github.com/authbridge/authbridge/pkg/session/sessiontest"
)

var ctx = context.Background()

func TestUnauthenticatedRequests(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{})
	tests := []struct {
		name       string
		req        *authz.Request
		wantStatus int
	}{
		{"navigation redirects", enginetest.Navigate("/dash?x=1", ""), http.StatusFound},
		{"html accept without fetch metadata redirects", &authz.Request{Method: "GET", Scheme: "https", Host: enginetest.AppHost, URI: "/", Accept: "text/html"}, http.StatusFound},
		{"HEAD navigation redirects", &authz.Request{Method: "HEAD", Scheme: "https", Host: enginetest.AppHost, URI: "/", FetchMode: "navigate"}, http.StatusFound},
		{"fetch gets 401", &authz.Request{Method: "GET", Scheme: "https", Host: enginetest.AppHost, URI: "/api", Accept: "*/*", FetchMode: "cors"}, http.StatusUnauthorized},
		{"fetch asking for html is still not a navigation", &authz.Request{Method: "GET", Scheme: "https", Host: enginetest.AppHost, URI: "/api", Accept: "text/html", FetchMode: "cors"}, http.StatusUnauthorized},
		{"json client gets 401", &authz.Request{Method: "GET", Scheme: "https", Host: enginetest.AppHost, URI: "/api", Accept: "application/json"}, http.StatusUnauthorized},
		{"json preferred over html gets 401", &authz.Request{Method: "GET", Scheme: "https", Host: enginetest.AppHost, URI: "/api", Accept: "text/html;q=0.5, application/json"}, http.StatusUnauthorized},
		{"POST form is never redirected", &authz.Request{Method: "POST", Scheme: "https", Host: enginetest.AppHost, URI: "/form", Accept: "text/html", FetchMode: "navigate"}, http.StatusUnauthorized},
		{"grpc client gets 401", &authz.Request{Method: "POST", Scheme: "https", Host: enginetest.AppHost, URI: "/pkg.Svc/Call", Accept: "application/grpc"}, http.StatusUnauthorized},
		{"nginx mode never redirects", &authz.Request{Method: "GET", Scheme: "https", Host: enginetest.AppHost, URI: "/", FetchMode: "navigate", NoRedirect: true}, http.StatusUnauthorized},
		{"garbage cookie is no session", enginetest.Navigate("/", "authbridge=not-a-ticket"), http.StatusFound},
		{"unknown ticket is no session", &authz.Request{Method: "GET", Scheme: "https", Host: enginetest.AppHost, URI: "/api", Cookie: "authbridge=" + newTicket(t)}, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := env.Engine.Decide(ctx, tt.req)
			require.NoError(t, err)
			require.Equal(t, tt.wantStatus, d.Status)
			if tt.wantStatus == http.StatusUnauthorized {
				require.Equal(t, authz.Deny, d.Outcome)
				require.Equal(t, `Bearer realm="authbridge"`, d.Header.Get("WWW-Authenticate"))
				require.Equal(t, "application/json", d.Header.Get("Content-Type"))
				var body struct {
					Error    string `json:"error"`
					LoginURL string `json:"login_url"`
				}
				require.NoError(t, json.Unmarshal([]byte(d.Body), &body))
				require.Equal(t, "https://"+enginetest.AppHost+"/oauth2/start?rd="+url.QueryEscape(tt.req.URI), body.LoginURL)
				require.Equal(t, "unauthenticated", body.Error)
				requireClears(t, d.Cookies, tt.req.Cookie != "") // a 401 sets no cookie, and clears a dead session's
				return
			}
			require.Equal(t, authz.Redirect, d.Outcome)
			requireAuthorizeURL(t, d.Location, env.IDPURL)
			requireClears(t, d.Cookies[1:], tt.req.Cookie != "") // the login sets its own cookie, and clears a dead session's
			c := d.Cookies[0]
			require.Regexp(t, `^authbridge-login-[A-Za-z0-9_-]{8}$`, c.Name)
			require.True(t, c.HttpOnly)
			require.True(t, c.Secure)
			require.Equal(t, http.SameSiteLaxMode, c.SameSite)
		})
	}
}

func requireAuthorizeURL(t *testing.T, loc, issuer string) {
	t.Helper()
	u, err := url.Parse(loc)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(loc, issuer+"authorize?"), loc)
	q := u.Query()
	require.Equal(t, "code", q.Get("response_type"))
	require.Equal(t, enginetest.ClientID, q.Get("client_id"))
	require.Equal(t, enginetest.CallbackURL, q.Get("redirect_uri"))
	require.Equal(t, "S256", q.Get("code_challenge_method"))
	require.Len(t, q.Get("code_challenge"), 43)
	require.GreaterOrEqual(t, len(q.Get("state")), 43)
	require.GreaterOrEqual(t, len(q.Get("nonce")), 43)
	require.Equal(t, "openid profile email offline_access", q.Get("scope"))
	require.Equal(t, enginetest.Audience, q.Get("audience"))
	require.Empty(t, q.Get("code_verifier"), "the verifier never leaves the server")
}

func TestLoginThenAllow(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{})
	cookie, cb := env.Login(t, "/dash?tab=2")
	require.Equal(t, "https://"+enginetest.AppHost+"/dash?tab=2", cb.Location)
	var sc *http.Cookie
	for _, c := range cb.Cookies {
		if c.Name == "authbridge" {
			sc = c
		}
	}
	require.NotNil(t, sc)
	require.True(t, sc.HttpOnly)
	require.True(t, sc.Secure)
	require.Equal(t, http.SameSiteLaxMode, sc.SameSite)
	require.Equal(t, "/", sc.Path)
	require.Equal(t, int((168 * time.Hour).Seconds()), sc.MaxAge)

	d, err := env.Engine.Decide(ctx, &authz.Request{Method: "POST", Scheme: "https", Host: enginetest.AppHost, URI: "/api", Cookie: "other=1; " + cookie})
	require.NoError(t, err)
	require.Equal(t, authz.Allow, d.Outcome, d.Reason)
	require.True(t, strings.HasPrefix(d.Upstream.Get("Authorization"), "Bearer ey"), "a JWT access token")
	require.Equal(t, enginetest.Alice.Subject, d.Upstream.Get("X-Auth-Request-User"))
	require.Equal(t, enginetest.Alice.Email, d.Upstream.Get("X-Auth-Request-Email"))
	require.Empty(t, d.Cookies)
}

func TestCallbackRefusals(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{})
	start := func(t *testing.T) (loginCookie, callbackURI string) {
		d, err := env.Engine.Decide(ctx, enginetest.Navigate("/", ""))
		require.NoError(t, err)
		return enginetest.CookieHeader(d.Cookies), env.FollowToProvider(t, d.Location)
	}
	t.Run("other browser (no pre-auth cookie)", func(t *testing.T) {
		_, cb := start(t)
		d, err := env.Engine.Decide(ctx, enginetest.Navigate(cb, ""))
		require.NoError(t, err)
		require.Equal(t, http.StatusBadRequest, d.Status)
		require.Empty(t, d.Cookies)
	})
	t.Run("other browser's pre-auth cookie", func(t *testing.T) {
		_, cb := start(t)
		other, _ := start(t)
		d, err := env.Engine.Decide(ctx, enginetest.Navigate(cb, other))
		require.NoError(t, err)
		require.Equal(t, http.StatusBadRequest, d.Status)
	})
	t.Run("replayed callback", func(t *testing.T) {
		lc, cb := start(t)
		d, err := env.Engine.Decide(ctx, enginetest.Navigate(cb, lc))
		require.NoError(t, err)
		require.Equal(t, authz.Redirect, d.Outcome)
		d, err = env.Engine.Decide(ctx, enginetest.Navigate(cb, lc))
		require.NoError(t, err)
		require.Equal(t, http.StatusBadRequest, d.Status)
	})
	t.Run("expired login", func(t *testing.T) {
		lc, cb := start(t)
		env.Clock.Advance(11 * time.Minute)
		d, err := env.Engine.Decide(ctx, enginetest.Navigate(cb, lc))
		require.NoError(t, err)
		require.Equal(t, http.StatusBadRequest, d.Status)
	})
	t.Run("forged code", func(t *testing.T) {
		lc, cb := start(t)
		u, _ := url.Parse(cb)
		q := u.Query()
		q.Set("code", "forged")
		d, err := env.Engine.Decide(ctx, enginetest.Navigate(u.Path+"?"+q.Encode(), lc))
		require.NoError(t, err)
		require.Equal(t, http.StatusBadRequest, d.Status)
	})
	t.Run("missing state", func(t *testing.T) {
		d, err := env.Engine.Decide(ctx, enginetest.Navigate("/oauth2/callback?code=x", ""))
		require.NoError(t, err)
		require.Equal(t, http.StatusBadRequest, d.Status)
	})
	t.Run("provider error", func(t *testing.T) {
		d, err := env.Engine.Decide(ctx, enginetest.Navigate("/oauth2/callback?error=access_denied&state=x", ""))
		require.NoError(t, err)
		require.Equal(t, http.StatusForbidden, d.Status)
	})
}

func TestReturnURLValidated(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{})
	tests := []struct{ rd, want string }{
		{"/inside?a=1", "https://app.example.test/inside?a=1"},
		{"https://app.example.test/x", "https://app.example.test/x"},
		{"https://evil.test/x", "https://app.example.test/"},
		{"//evil.test/x", "https://app.example.test/"},
		{"/\\evil.test", "https://app.example.test/"},
		{"javascript:alert(1)", "https://app.example.test/"},
		{"", "https://app.example.test/"},
	}
	for _, tt := range tests {
		t.Run(tt.rd, func(t *testing.T) {
			d, err := env.Engine.Decide(ctx, enginetest.Navigate("/oauth2/start?rd="+url.QueryEscape(tt.rd), ""))
			require.NoError(t, err)
			cb := env.FollowToProvider(t, d.Location)
			d2, err := env.Engine.Decide(ctx, enginetest.Navigate(cb, enginetest.CookieHeader(d.Cookies)))
			require.NoError(t, err)
			require.Equal(t, tt.want, d2.Location)
		})
	}
}

func TestPolicy(t *testing.T) {
	tests := []struct {
		name   string
		policy authz.Policy
		user   string
		want   authz.Outcome
	}{
		{"no policy", authz.Policy{}, "bob", authz.Allow},
		{"email domain match", authz.Policy{EmailDomains: []string{"EXAMPLE.com"}}, "alice", authz.Allow},
		{"email domain miss", authz.Policy{EmailDomains: []string{"example.com"}}, "bob", authz.Deny},
		{"group match", authz.Policy{Groups: []string{"ops", "admin"}}, "alice", authz.Allow},
		{"group miss", authz.Policy{Groups: []string{"admin"}}, "bob", authz.Deny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := enginetest.New(t, enginetest.Options{AutoLogin: tt.user, Engine: authz.Options{Policy: tt.policy}})
			cookie, _ := env.Login(t, "/")
			d, err := env.Engine.Decide(ctx, enginetest.Navigate("/", cookie))
			require.NoError(t, err)
			require.Equal(t, tt.want, d.Outcome, d.Reason)
			if tt.want == authz.Deny {
				require.Equal(t, http.StatusForbidden, d.Status)
				require.Nil(t, d.Upstream)
			}
		})
	}
}

func TestRefresh(t *testing.T) {
	t.Run("near expiry refreshes once and keeps the session", func(t *testing.T) {
		env := enginetest.New(t, enginetest.Options{TokenTTL: 10 * time.Minute})
		cookie, _ := env.Login(t, "/")
		first := allow(t, env, cookie)
		env.Clock.Advance(9*time.Minute + 30*time.Second) // inside refresh_ahead
		second := allow(t, env, cookie)
		require.NotEqual(t, first, second)
		require.Equal(t, second, allow(t, env, cookie), "the refreshed token is stored")
		require.Equal(t, 1, env.IDP.Stats().TokenCalls["refresh_token"])
	})
	t.Run("token with time left is not refreshed", func(t *testing.T) {
		env := enginetest.New(t, enginetest.Options{TokenTTL: 10 * time.Minute})
		cookie, _ := env.Login(t, "/")
		first := allow(t, env, cookie)
		env.Clock.Advance(5 * time.Minute)
		require.Equal(t, first, allow(t, env, cookie))
		require.Zero(t, env.IDP.Stats().TokenCalls["refresh_token"])
	})
	t.Run("invalid_grant ends the session", func(t *testing.T) {
		env := enginetest.New(t, enginetest.Options{TokenTTL: 10 * time.Minute})
		cookie, _ := env.Login(t, "/")
		env.IDP.RevokeUser(enginetest.Alice.Subject)
		env.Clock.Advance(10 * time.Minute)
		d, err := env.Engine.Decide(ctx, enginetest.Navigate("/", cookie))
		require.NoError(t, err)
		require.Equal(t, authz.Redirect, d.Outcome)
		d, err = env.Engine.Decide(ctx, &authz.Request{Method: "GET", Scheme: "https", Host: enginetest.AppHost, URI: "/api", Cookie: cookie})
		require.NoError(t, err)
		require.Equal(t, http.StatusUnauthorized, d.Status, "the session is gone")
	})
	t.Run("provider down: valid token still used, expired token fails closed, recovery", func(t *testing.T) {
		env := enginetest.New(t, enginetest.Options{TokenTTL: 10 * time.Minute})
		cookie, _ := env.Login(t, "/")
		first := allow(t, env, cookie)
		env.IDP.SetTokenDown(true)
		env.Clock.Advance(9*time.Minute + 30*time.Second)
		require.Equal(t, first, allow(t, env, cookie))
		env.Clock.Advance(time.Minute)
		d, err := env.Engine.Decide(ctx, enginetest.Navigate("/", cookie))
		require.Error(t, err)
		require.Nil(t, d)
		env.IDP.SetTokenDown(false)
		require.NotEqual(t, first, allow(t, env, cookie))
	})
}

func allow(t *testing.T, env *enginetest.Env, cookie string) string {
	t.Helper()
	d, err := env.Engine.Decide(ctx, enginetest.Navigate("/", cookie))
	require.NoError(t, err)
	require.Equal(t, authz.Allow, d.Outcome, d.Reason)
	return d.Upstream.Get("Authorization")
}

func TestLifetimes(t *testing.T) {
	t.Run("absolute lifetime", func(t *testing.T) {
		env := enginetest.New(t, enginetest.Options{TokenTTL: 1000 * time.Hour, Engine: authz.Options{
			Lifetimes: authz.Lifetimes{Idle: time.Hour, Max: 3 * time.Hour, Login: time.Minute}}})
		cookie, _ := env.Login(t, "/")
		for range 5 { // active use keeps it past the idle timeout...
			env.Clock.Advance(30 * time.Minute)
			allow(t, env, cookie)
		}
		env.Clock.Advance(31 * time.Minute) // ...but not past the absolute lifetime
		d, err := env.Engine.Decide(ctx, enginetest.Navigate("/", cookie))
		require.NoError(t, err)
		require.Equal(t, authz.Redirect, d.Outcome)
	})
	t.Run("idle timeout", func(t *testing.T) {
		env := enginetest.New(t, enginetest.Options{TokenTTL: 1000 * time.Hour, Engine: authz.Options{
			Lifetimes: authz.Lifetimes{Idle: time.Hour, Max: 30 * time.Hour, Login: time.Minute}}})
		cookie, _ := env.Login(t, "/")
		env.Clock.Advance(61 * time.Minute)
		d, err := env.Engine.Decide(ctx, enginetest.Navigate("/", cookie))
		require.NoError(t, err)
		require.Equal(t, authz.Redirect, d.Outcome)
	})
}

func TestSignOut(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{})
	cookie, _ := env.Login(t, "/")
	d, err := env.Engine.Decide(ctx, enginetest.Navigate("/oauth2/sign_out?rd=/", cookie))
	require.NoError(t, err)
	require.Equal(t, authz.Redirect, d.Outcome)
	u, err := url.Parse(d.Location)
	require.NoError(t, err)
	require.Equal(t, strings.TrimSuffix(env.IDPURL, "/")+"/oidc/logout", u.Scheme+"://"+u.Host+u.Path)
	require.Equal(t, enginetest.LogoutReturn, u.Query().Get("post_logout_redirect_uri"))
	require.NotEmpty(t, u.Query().Get("id_token_hint"))
	require.Len(t, d.Cookies, 1)
	require.Equal(t, "authbridge", d.Cookies[0].Name)
	require.Negative(t, d.Cookies[0].MaxAge)
	require.True(t, d.Cookies[0].Secure && d.Cookies[0].HttpOnly, "cleared with the attributes it was set with")

	d, err = env.Engine.Decide(ctx, &authz.Request{Method: "GET", Scheme: "https", Host: enginetest.AppHost, URI: "/api", Cookie: cookie})
	require.NoError(t, err)
	require.Equal(t, http.StatusUnauthorized, d.Status, "the old cookie no longer works")

	t.Run("return URL off the list goes to the app root", func(t *testing.T) {
		d, err := env.Engine.Decide(ctx, enginetest.Navigate("/oauth2/sign_out?rd=https://evil.test/", ""))
		require.NoError(t, err)
		u, _ := url.Parse(d.Location)
		require.Equal(t, enginetest.LogoutReturn, u.Query().Get("post_logout_redirect_uri"))
	})
}

var errDown = sessiontest.ErrDown

func TestStoreDownFailsClosed(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{Store: sessiontest.Down{}})
	for _, req := range []*authz.Request{
		enginetest.Navigate("/", "authbridge="+newTicket(t)),
		{Method: "GET", Scheme: "https", Host: enginetest.AppHost, URI: "/api", Cookie: "authbridge=" + newTicket(t)},
		enginetest.Navigate("/oauth2/sign_out", "authbridge="+newTicket(t)),
	} {
		d, err := env.Engine.Decide(ctx, req)
		require.Error(t, err, req.URI)
		require.Nil(t, d, "no decision, so no cookie is cleared")
	}
	// Starting a login needs no store at all; finishing one does, after the provider accepted the code.
	d, err := env.Engine.Decide(ctx, enginetest.Navigate("/", ""))
	require.NoError(t, err)
	require.Equal(t, authz.Redirect, d.Outcome)
	d, err = env.Engine.Decide(ctx, enginetest.Navigate(env.FollowToProvider(t, d.Location), enginetest.CookieHeader(d.Cookies)))
	require.Error(t, err)
	require.Nil(t, d)
}

func newTicket(t *testing.T) string {
	tk, err := session.NewTicket()
	require.NoError(t, err)
	return tk.String()
}

// countingStore counts writes to session records.
type countingStore struct {
	session.Store
	mu     sync.Mutex
	writes int
}

func (c *countingStore) CompareAndSwap(ctx context.Context, key string, old, val []byte, ttl time.Duration) (bool, error) {
	c.mu.Lock()
	c.writes++
	c.mu.Unlock()
	return c.Store.CompareAndSwap(ctx, key, old, val, ttl)
}

func (c *countingStore) Put(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	c.mu.Lock()
	c.writes++
	c.mu.Unlock()
	return c.Store.Put(ctx, key, val, ttl)
}

// TestIdleTimeoutSlidesWithoutWritePerRequest: an active session keeps living past its idle timeout, and
// extending it costs a store write only once per Idle/8, not on every request.
func TestIdleTimeoutSlidesWithoutWritePerRequest(t *testing.T) {
	store := &countingStore{}
	env := enginetest.New(t, enginetest.Options{Store: store, TokenTTL: 1000 * time.Hour, Engine: authz.Options{
		Lifetimes: authz.Lifetimes{Idle: 80 * time.Minute, Max: 100 * time.Hour, Login: time.Minute}}})
	store.Store = session.NewMemoryStore(env.Clock.Now)
	cookie, _ := env.Login(t, "/")
	store.mu.Lock()
	store.writes = 0
	store.mu.Unlock()
	// 4 hours of use, one request a minute: 240 requests, well past the 80-minute idle timeout.
	for range 240 {
		env.Clock.Advance(time.Minute)
		allow(t, env, cookie)
	}
	store.mu.Lock()
	defer store.mu.Unlock()
	require.LessOrEqual(t, store.writes, 240/10+1, "about one write per Idle/8 (10 minutes)")
	require.GreaterOrEqual(t, store.writes, 20)
}
