package forwardauth_test

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/pkg/forwardauth"
	"github.com/authbridge/authbridge/pkg/session"
	"github.com/authbridge/authbridge/pkg/session/sessiontest"
)

func TestNginxAuthNeverRedirects(t *testing.T) {
	env, h := front(t, enginetest.Options{})
	cookie, _ := login(t, env, h, "/")
	untrusted := nginx("GET", "/", nav(cookie))
	untrusted.RemoteAddr = stranger
	tests := []struct {
		name       string
		req        *http.Request
		wantStatus int
	}{
		{"navigation without session", nginx("GET", "/dash", nav("")), http.StatusUnauthorized},
		{"xhr without session", nginx("GET", "/api", xhr("")), http.StatusUnauthorized},
		{"valid session", nginx("GET", "/dash", nav(cookie)), http.StatusOK},
		{"valid session POST", nginx("POST", "/api", xhr(cookie)), http.StatusOK},
		{"start through auth_request", nginx("GET", "/oauth2/start?rd=%2Fx", nav("")), http.StatusUnauthorized},
		{"callback through auth_request", nginx("GET", "/oauth2/callback?state=x&code=y", nav("")), http.StatusUnauthorized},
		{"provider error through auth_request", nginx("GET", "/oauth2/callback?error=access_denied", nav("")), http.StatusUnauthorized},
		// The flows never run behind auth_request: sign-out there must not delete the session.
		{"sign-out through auth_request leaves the session", nginx("GET", "/oauth2/sign_out", nav(cookie)), http.StatusOK},
		{"session still valid after that", nginx("GET", "/dash", nav(cookie)), http.StatusOK},
		// The gateway-only listener answers trusted gateways only: a browser that reaches it directly
		// gets no token, whatever it sends.
		{"untrusted peer with session", untrusted, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(h, tt.req)
			require.Equal(t, tt.wantStatus, rec.Code, rec.Body.String())
			require.Empty(t, rec.Header().Get("Location"), "auth_request treats a 3xx as an error")
			if rec.Code == http.StatusOK {
				require.True(t, strings.HasPrefix(rec.Header().Get("Authorization"), "Bearer ey"))
				return
			}
			require.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
			require.Empty(t, rec.Header()["Authorization"])
		})
	}
}

func TestStartReturnsToAllowedURL(t *testing.T) {
	env, h := front(t, enginetest.Options{})
	tests := []struct{ rd, want string }{
		{"/x", appURL + "/x"},
		{"/x?a=1&b=2", appURL + "/x?a=1&b=2"},
		{appURL + "/y", appURL + "/y"},
		{"https://evil.test/", appURL + "/"},
		{"//evil.test/", appURL + "/"},
		{"/\\evil.test", appURL + "/"},
		{"javascript:alert(1)", appURL + "/"},
		{"", appURL + "/"},
	}
	for _, tt := range tests {
		t.Run(tt.rd, func(t *testing.T) {
			rec := serve(h, direct("/oauth2/start?rd="+url.QueryEscape(tt.rd), nav("")))
			require.Equal(t, http.StatusFound, rec.Code)
			require.True(t, strings.HasPrefix(rec.Header().Get("Location"), env.IDPURL+"authorize?"))
			cb := env.FollowToProvider(t, rec.Header().Get("Location"))
			rec = serve(h, direct(cb, nav(cookiePair(t, rec, loginCookie))))
			require.Equal(t, http.StatusFound, rec.Code, rec.Body.String())
			require.Equal(t, tt.want, rec.Header().Get("Location"))
			setCookie(t, rec, "authbridge")
		})
	}
}

func TestCallbackRefusedThroughFront(t *testing.T) {
	env, h := front(t, enginetest.Options{})
	rec := serve(h, traefik("GET", "/", nav("")))
	cb := env.FollowToProvider(t, rec.Header().Get("Location"))
	// Another browser (no pre-auth cookie) presents the callback: refused, no session set.
	rec = serve(h, direct(cb, nav("")))
	require.Equal(t, http.StatusBadRequest, rec.Code)
	require.Empty(t, rec.Header().Values("Set-Cookie"))
	require.NotContains(t, rec.Body.String(), "code=")
}

func TestSignOut(t *testing.T) {
	env, h := front(t, enginetest.Options{})
	cookie, _ := login(t, env, h, "/")
	rec := serve(h, direct("/oauth2/sign_out?rd=%2F", nav(cookie)))
	require.Equal(t, http.StatusFound, rec.Code)
	require.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	u, err := url.Parse(rec.Header().Get("Location"))
	require.NoError(t, err)
	require.Equal(t, env.IDPURL+"oidc/logout", u.Scheme+"://"+u.Host+u.Path)
	require.Equal(t, enginetest.LogoutReturn, u.Query().Get("post_logout_redirect_uri"))
	require.Equal(t, []string{"authbridge=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax"}, rec.Header().Values("Set-Cookie"),
		"cleared with the attributes it was set with")

	_, value, _ := strings.Cut(cookie, "=")
	for name, req := range map[string]*http.Request{
		"traefik": traefik("GET", "/api", xhr(cookie)),
		"nginx":   nginx("GET", "/", nav(cookie)),
	} {
		t.Run("old cookie after sign-out/"+name, func(t *testing.T) {
			rec := serve(h, req)
			require.Equal(t, http.StatusUnauthorized, rec.Code)
			require.NotContains(t, rec.Body.String(), value)
			require.NotContains(t, rec.Body.String(), "Bearer")
			require.Empty(t, rec.Header()["Authorization"])
		})
	}
	t.Run("without a session", func(t *testing.T) {
		rec := serve(h, direct("/oauth2/sign_out", nav("")))
		require.Equal(t, http.StatusFound, rec.Code)
		require.True(t, strings.HasPrefix(rec.Header().Get("Location"), env.IDPURL+"oidc/logout?"))
	})
}

func TestStoreDownIs503(t *testing.T) {
	env, h := front(t, enginetest.Options{Store: sessiontest.Down{}})
	tk, err := session.NewTicket()
	require.NoError(t, err)
	value := tk.String()
	cookie := "authbridge=" + value + "; authbridge-login-AAAAAAAA=" + strings.Repeat("b", 43)
	tests := []struct {
		name string
		req  *http.Request
	}{
		{"auth with session", traefik("GET", "/", nav(cookie))},
		{"auth xhr with session", caddy("GET", "/api", xhr(cookie))},
		{"nginx with session", nginx("GET", "/", nav(cookie))},
		{"sign out", direct("/oauth2/sign_out", nav(cookie))},
		{"userinfo", direct("/oauth2/userinfo", xhr(cookie))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(h, tt.req)
			require.Equal(t, http.StatusServiceUnavailable, rec.Code)
			require.Equal(t, "authentication is temporarily unavailable\n", rec.Body.String())
			require.Empty(t, rec.Header().Values("Set-Cookie"), "a transient error never clears the cookie")
			require.Empty(t, rec.Header().Get("Location"))
			require.Empty(t, rec.Header()["Authorization"])
			require.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
			require.NotContains(t, rec.Body.String(), value)
		})
	}
	// Starting a login needs no store; finishing one does, once the provider has accepted the code.
	rec := serve(h, traefik("GET", "/", nav("")))
	require.Equal(t, http.StatusFound, rec.Code)
	rec = serve(h, direct(env.FollowToProvider(t, rec.Header().Get("Location")), nav(cookiePair(t, rec, loginCookie))))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Empty(t, rec.Header().Values("Set-Cookie"))
}

// TestOverRealConnections checks the peer address as net/http reports it for real IPv4 and IPv6
// connections: headers are believed from the configured proxy only.
func TestOverRealConnections(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{})
	tests := []struct {
		name    string
		listen  string
		trusted string
		want    int // 401 with the app's login URL, or 403 to a peer outside trusted_proxies
	}{
		{"IPv4 trusted", "127.0.0.1:0", "127.0.0.0/8", http.StatusUnauthorized},
		{"IPv4 untrusted", "127.0.0.1:0", "10.0.0.0/8", http.StatusForbidden},
		{"IPv6 trusted", "[::1]:0", "::1/128", http.StatusUnauthorized},
		{"IPv6 untrusted", "[::1]:0", "127.0.0.0/8", http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lis, err := net.Listen("tcp", tt.listen)
			if err != nil {
				t.Skipf("no %s loopback here: %v", tt.listen, err)
			}
			srv := httptest.NewUnstartedServer(listeners(env.Engine, []netip.Prefix{netip.MustParsePrefix(tt.trusted)}))
			srv.Listener.Close()
			srv.Listener = lis
			srv.Start()
			defer srv.Close()
			req, err := http.NewRequest("GET", srv.URL+forwardauth.PathAuth, nil)
			require.NoError(t, err)
			req.Header = traefik("GET", "/api", xhr("")).Header
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, tt.want, resp.StatusCode)
			if tt.want == http.StatusForbidden {
				require.Empty(t, resp.Header.Values("Authorization"))
				return
			}
			var body loginBody
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
			require.Equal(t, appURL+"/oauth2/start?rd=%2Fapi", body.LoginURL)
		})
	}
}
