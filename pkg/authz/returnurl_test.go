package authz_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/pkg/authz"
	"github.com/authbridge/authbridge/pkg/login"
)

// returnEnv is an engine whose allowlist has the app host, a listed IP and a listed port.
func returnEnv(t *testing.T) *enginetest.Env {
	return enginetest.New(t, enginetest.Options{Engine: authz.Options{
		Redirects: authz.Domains{enginetest.AppHost, "127.0.0.1", "alt.example.test:8443"}}})
}

// loginFrom starts a login with r, lets the provider answer, finishes it on the app host and returns
// where the browser is sent at the end.
func loginFrom(t *testing.T, env *enginetest.Env, r *authz.Request) string {
	t.Helper()
	d, err := env.Engine.Decide(ctx, r)
	require.NoError(t, err)
	require.Equal(t, authz.Redirect, d.Outcome, d.Reason)
	require.True(t, strings.HasPrefix(d.Location, env.IDPURL+"authorize?"), d.Location)
	d, err = env.Engine.Decide(ctx, enginetest.Navigate(env.FollowToProvider(t, d.Location), enginetest.CookieHeader(d.Cookies)))
	require.NoError(t, err)
	require.Equal(t, authz.Redirect, d.Outcome, d.Reason)
	return d.Location
}

// TestReturnURLThroughLogin is rule 4 of issue 11 end to end in the engine: the rd a login starts with,
// on the request's own scheme and host, and where the browser lands after the callback. A refused rd
// lands on the absolute root of the request's own origin.
func TestReturnURLThroughLogin(t *testing.T) {
	env := returnEnv(t)
	const app = "https://" + enginetest.AppHost
	tests := []struct {
		name, scheme, host, rd, want string
	}{
		{"relative", "https", enginetest.AppHost, "/ok?a=1", app + "/ok?a=1"},
		{"review: relative on the unlisted auth host", "https", "auth.example.test", "/ok", "https://auth.example.test/ok"},
		{"review: http://127.0.0.1:9999/steal from http://127.0.0.1", "http", "127.0.0.1", "http://127.0.0.1:9999/steal", "http://127.0.0.1/"},
		{"review: same from https://127.0.0.1:8443", "https", "127.0.0.1:8443", "http://127.0.0.1:9999/steal", "https://127.0.0.1:8443/"},
		{"listed IP on an http request", "http", "127.0.0.1:8080", "http://127.0.0.1/ok", "http://127.0.0.1/ok"},
		{"same origin on its own port", "http", "127.0.0.1:8080", "http://127.0.0.1:8080/ok", "http://127.0.0.1:8080/ok"},
		{"downgrade", "https", enginetest.AppHost, "http://" + enginetest.AppHost + "/x", app + "/"},
		{"unlisted port", "https", enginetest.AppHost, app + ":8443/x", app + "/"},
		{"listed port", "https", enginetest.AppHost, "https://alt.example.test:8443/x", "https://alt.example.test:8443/x"},
		{"listed port's host on the default port", "https", enginetest.AppHost, "https://alt.example.test/x", app + "/"},
		{"upper case", "https", enginetest.AppHost, "HTTPS://APP.EXAMPLE.TEST/X", app + "/X"},
		{"listed host as a prefix", "https", enginetest.AppHost, "https://app.example.test.evil.com/", app + "/"},
		{"userinfo", "https", enginetest.AppHost, "https://app.example.test@evil.com/", app + "/"},
		{"userinfo with port", "https", enginetest.AppHost, "https://app.example.test:443@evil.com/", app + "/"},
		{"backslash userinfo", "https", enginetest.AppHost, "https://evil.com\\@app.example.test", app + "/"},
		{"backslash path", "https", enginetest.AppHost, "/\\evil.com", app + "/"},
		{"tab path", "https", enginetest.AppHost, "/\t/evil.com", app + "/"},
		{"encoded tab path", "https", enginetest.AppHost, "/%09/evil.com", app + "/"},
		{"protocol relative", "https", enginetest.AppHost, "//evil.com", app + "/"},
		{"scheme without slashes", "https", enginetest.AppHost, "https:evil.com", app + "/"},
		{"homoglyph", "https", enginetest.AppHost, "https://аpp.example.test/", app + "/"},
		{"percent-encoded host", "https", enginetest.AppHost, "https://%61pp.example.test/", app + "/"},
		{"trailing dot", "https", enginetest.AppHost, "https://app.example.test./", app + "/"},
		{"IPv6 loopback", "https", enginetest.AppHost, "https://[::1]/", app + "/"},
		{"numeric IPv4 spelling", "http", "127.0.0.1", "http://2130706433/", "http://127.0.0.1/"},
		{"CRLF", "https", enginetest.AppHost, "/a%0d%0aSet-Cookie:x=y", app + "/"},
		{"fragment", "https", enginetest.AppHost, "/ok#frag", app + "/ok#frag"},
		{"no rd", "https", enginetest.AppHost, "", app + "/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := enginetest.Navigate("/oauth2/start?rd="+url.QueryEscape(tt.rd), "")
			r.Scheme, r.Host = tt.scheme, tt.host
			require.Equal(t, tt.want, loginFrom(t, env, r))
		})
	}
	t.Run("navigation without a session returns to itself", func(t *testing.T) {
		require.Equal(t, app+"/dash?tab=2", loginFrom(t, env, enginetest.Navigate("/dash?tab=2", "")))
	})
	t.Run("two rd or a malformed query are 400, nothing set, nothing ended", func(t *testing.T) {
		cookie, _ := env.Login(t, "/")
		for _, uri := range []string{"/oauth2/start?rd=/a&rd=//evil.com", "/oauth2/start?rd=/a&rd=/a", "/oauth2/start?rd=%zz",
			"/oauth2/sign_out?rd=/a&rd=https://evil.com/", "/oauth2/sign_out?rd=%"} {
			d, err := env.Engine.Decide(ctx, enginetest.Navigate(uri, cookie))
			require.NoError(t, err)
			require.Equal(t, http.StatusBadRequest, d.Status, uri)
			require.Empty(t, d.Cookies, uri)
		}
		d, err := env.Engine.Decide(ctx, enginetest.Navigate("/", cookie))
		require.NoError(t, err)
		require.Equal(t, authz.Allow, d.Outcome, "the session survived the refused sign-outs")
	})
	t.Run("overlong rd is 414", func(t *testing.T) {
		d, err := env.Engine.Decide(ctx, enginetest.Navigate("/oauth2/start?rd=/"+strings.Repeat("a", authz.MaxReturnURL), ""))
		require.NoError(t, err)
		require.Equal(t, http.StatusRequestURITooLong, d.Status)
		require.Empty(t, d.Cookies)
	})
}

// TestNoOriginNoFlow: a login or sign-out on a request whose scheme and host make no origin to come back
// to is refused with 400 before anything is set or deleted.
func TestNoOriginNoFlow(t *testing.T) {
	env := returnEnv(t)
	cookie, _ := env.Login(t, "/")
	for _, host := range []string{"evil.com/@app.example.test", "app.example.test:0", "0x7f.1", "app.example.test.", "аpp.example.test", "[fe80::1%eth0]"} {
		for _, uri := range []string{"/oauth2/start?rd=/x", "/dash", "/oauth2/sign_out"} {
			t.Run(host+uri, func(t *testing.T) {
				r := enginetest.Navigate(uri, cookie)
				r.Host = host
				if uri == "/dash" {
					r.Cookie = "" // unauthenticated: the login it starts is what is refused
				}
				d, err := env.Engine.Decide(ctx, r)
				require.NoError(t, err)
				require.Equal(t, http.StatusBadRequest, d.Status, d.Reason)
				require.Empty(t, d.Cookies)
				require.Empty(t, d.Location)
			})
		}
	}
	d, err := env.Engine.Decide(ctx, &authz.Request{Method: "GET", Scheme: "https", Host: enginetest.AppHost, URI: "/api", Cookie: cookie})
	require.NoError(t, err)
	require.Equal(t, authz.Allow, d.Outcome, "no sign-out happened")
}

// TestEveryLocationIsAbsolute is issue 14's finding: Traefik resolves a relative Location against
// authbridge's own address, so every Location the engine emits is absolute, its fallbacks on the
// request's own origin.
func TestEveryLocationIsAbsolute(t *testing.T) {
	env := returnEnv(t)
	noLogout := env.ReplicaWith(t, func(o *authz.Options) {
		p, err := login.New(context.Background(), login.Config{IssuerURL: env.IDPURL, ClientID: enginetest.ClientID,
			ClientSecret: enginetest.ClientSecret, RedirectURL: enginetest.CallbackURL, Scopes: []string{"openid"},
			Logout: login.LogoutNone, Now: env.Clock.Now}, nil)
		require.NoError(t, err)
		o.Provider = p
	})
	onOrigin := func(scheme, host, uri string) *authz.Request {
		r := enginetest.Navigate(uri, "")
		r.Scheme, r.Host = scheme, host
		return r
	}
	tests := []struct {
		name string
		e    *authz.Engine
		r    *authz.Request
		want string
	}{
		{"sign-out without provider logout", noLogout, onOrigin("https", enginetest.AppHost, "/oauth2/sign_out"), "https://app.example.test/"},
		{"sign-out, refused rd", noLogout, onOrigin("https", enginetest.AppHost, "/oauth2/sign_out?rd=https://evil.test/"), "https://app.example.test/"},
		{"sign-out, relative rd on an unlisted host", noLogout, onOrigin("https", "auth.example.test", "/oauth2/sign_out?rd=/bye"), "https://auth.example.test/bye"},
		{"sign-out over http on a port", noLogout, onOrigin("http", "127.0.0.1:8080", "/oauth2/sign_out?rd=//evil.test"), "http://127.0.0.1:8080/"},
		{"sign-out, downgrade refused", noLogout, onOrigin("https", enginetest.AppHost, "/oauth2/sign_out?rd=http://app.example.test/"), "https://app.example.test/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := tt.e.Decide(ctx, tt.r)
			require.NoError(t, err)
			require.Equal(t, authz.Redirect, d.Outcome, d.Reason)
			require.Equal(t, tt.want, d.Location)
		})
	}
	t.Run("sign-out through the provider returns to the origin", func(t *testing.T) {
		d, err := env.Engine.Decide(ctx, onOrigin("https", enginetest.AppHost, "/oauth2/sign_out?rd=https://evil.test/"))
		require.NoError(t, err)
		u, err := url.Parse(d.Location)
		require.NoError(t, err)
		require.True(t, u.IsAbs())
		require.Equal(t, "https://app.example.test/", u.Query().Get("post_logout_redirect_uri"))
	})
	t.Run("login started by an older version with a relative return", func(t *testing.T) {
		d, err := env.Engine.Decide(ctx, enginetest.Navigate("/dash", ""))
		require.NoError(t, err)
		c := d.Cookies[0]
		old, err := env.Engine.ResealReturnTo(c.Name, c.Value, "/")
		require.NoError(t, err)
		cb := env.FollowToProvider(t, d.Location)
		d, err = env.Engine.Decide(ctx, enginetest.Navigate(cb, c.Name+"="+old))
		require.NoError(t, err)
		require.Equal(t, authz.Redirect, d.Outcome, d.Reason)
		require.Equal(t, "https://app.example.test/", d.Location)
	})
}
