package forwardauth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/pkg/authz"
	"github.com/authbridge/authbridge/pkg/forwardauth"
	"github.com/authbridge/authbridge/pkg/session"
)

// gateway is the proxy's address as authbridge sees it (trusted); stranger is anyone else.
const (
	gateway  = "10.0.0.2:41234"
	stranger = "203.0.113.9:51000"
	appURL   = "https://" + enginetest.AppHost
)

// front builds an engine against devidp and both HTTP listeners over it, trusting 10.0.0.0/8: requests
// for /auth and /oauth2/auth go to the gateway handler, everything else to the browser handler, as a
// deployment routes them.
func front(t testing.TB, o enginetest.Options) (*enginetest.Env, http.Handler) {
	env := enginetest.New(t, o)
	return env, listeners(env.Engine, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
}

func listeners(e *authz.Engine, trusted []netip.Prefix) http.Handler {
	o := forwardauth.Options{TrustedProxies: trusted}
	gw, browser := forwardauth.NewGateway(e, o), forwardauth.NewBrowser(e, o)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == forwardauth.PathAuth || r.URL.Path == forwardauth.PathNginxAuth {
			gw.ServeHTTP(w, r)
			return
		}
		browser.ServeHTTP(w, r)
	})
}

// nav is what a browser sends on a top-level navigation from the app's own pages; xhr is what a
// script's fetch sends.
func nav(cookie string) http.Header {
	h := http.Header{"Accept": {"text/html,application/xhtml+xml,*/*;q=0.8"}, "Sec-Fetch-Mode": {"navigate"}, "Sec-Fetch-Site": {"same-origin"}}
	if cookie != "" {
		h.Set("Cookie", cookie)
	}
	return h
}

func xhr(cookie string) http.Header {
	h := http.Header{"Accept": {"application/json"}, "Sec-Fetch-Mode": {"cors"}}
	if cookie != "" {
		h.Set("Cookie", cookie)
	}
	return h
}

func withHeaders(r *http.Request, browser http.Header) *http.Request {
	for k, vs := range browser {
		r.Header[k] = vs
	}
	return r
}

// traefik is the subrequest Traefik's forwardAuth sends for a browser's method+uri on the app host:
// a GET to authbridge's address carrying the browser's headers and X-Forwarded-*.
func traefik(method, uri string, browser http.Header) *http.Request {
	r := withHeaders(httptest.NewRequest(http.MethodGet, "http://authbridge:4180"+forwardauth.PathAuth, nil), browser)
	r.RemoteAddr = gateway
	r.Header.Set("X-Forwarded-Method", method)
	r.Header.Set("X-Forwarded-Proto", "https")
	r.Header.Set("X-Forwarded-Host", enginetest.AppHost)
	r.Header.Set("X-Forwarded-Uri", uri)
	r.Header.Set("X-Forwarded-For", "198.51.100.7")
	return r
}

// caddy is Caddy's forward_auth subrequest: the browser's Host kept, X-Forwarded-Method/-Uri set.
func caddy(method, uri string, browser http.Header) *http.Request {
	r := withHeaders(httptest.NewRequest(http.MethodGet, forwardauth.PathAuth, nil), browser)
	r.RemoteAddr, r.Host = gateway, enginetest.AppHost
	r.Header.Set("X-Forwarded-Method", method)
	r.Header.Set("X-Forwarded-Uri", uri)
	r.Header.Set("X-Forwarded-Proto", "https")
	r.Header.Set("X-Forwarded-Host", enginetest.AppHost)
	r.Header.Set("X-Forwarded-For", "198.51.100.7")
	return r
}

// nginx is nginx's auth_request subrequest with X-Original-URL and X-Original-Method.
func nginx(method, uri string, browser http.Header) *http.Request {
	r := withHeaders(httptest.NewRequest(http.MethodGet, "http://authbridge:4180"+forwardauth.PathNginxAuth, nil), browser)
	r.RemoteAddr = gateway
	r.Header.Set("X-Original-Url", appURL+uri)
	r.Header.Set("X-Original-Method", method)
	return r
}

// direct is the browser's own request for uri (an /oauth2/ path) that the gateway proxies to authbridge.
func direct(uri string, browser http.Header) *http.Request {
	r := withHeaders(httptest.NewRequest(http.MethodGet, "http://authbridge:4180"+uri, nil), browser)
	r.RemoteAddr = gateway
	r.Header.Set("X-Forwarded-Proto", "https")
	r.Header.Set("X-Forwarded-Host", enginetest.AppHost)
	return r
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// setCookie returns the Set-Cookie line for name (a name ending in "-" is a prefix: loginCookie);
// cookiePair returns "name=value" from it.
func setCookie(t testing.TB, rec *httptest.ResponseRecorder, name string) string {
	t.Helper()
	for _, sc := range rec.Header().Values("Set-Cookie") {
		if strings.HasPrefix(sc, name+"=") || (strings.HasSuffix(name, "-") && strings.HasPrefix(sc, name)) {
			return sc
		}
	}
	t.Fatalf("no Set-Cookie for %s", name)
	return ""
}

// clearSession is the Set-Cookie that deletes the session cookie, with the attributes it was set with.
const clearSession = "authbridge=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax"

// loginCookie starts the name of every pending-login cookie (one per login, tagged with its state).
const loginCookie = "authbridge-login-"

func cookiePair(t testing.TB, rec *httptest.ResponseRecorder, name string) string {
	t.Helper()
	pair, _, _ := strings.Cut(setCookie(t, rec, name), ";")
	return pair
}

// login runs a whole browser login through the front: /auth redirects, the provider redirects back to
// /oauth2/callback, which the gateway proxies to the front. It returns the session's Cookie pair.
func login(t testing.TB, env *enginetest.Env, h http.Handler, uri string) (string, *httptest.ResponseRecorder) {
	t.Helper()
	rec := serve(h, traefik("GET", uri, nav("")))
	require.Equal(t, http.StatusFound, rec.Code)
	cb := env.FollowToProvider(t, rec.Header().Get("Location"))
	rec = serve(h, direct(cb, nav(cookiePair(t, rec, loginCookie))))
	require.Equal(t, http.StatusFound, rec.Code, rec.Body.String())
	return cookiePair(t, rec, "authbridge"), rec
}

// loginBody is the JSON body of a 401.
type loginBody struct {
	Error    string `json:"error"`
	LoginURL string `json:"login_url"`
}

func TestAuthWithoutSession(t *testing.T) {
	env, h := front(t, enginetest.Options{})
	tests := []struct {
		name         string
		req          *http.Request
		wantStatus   int
		wantLoginURL string // 401 only
	}{
		{"traefik navigation", traefik("GET", "/dash?tab=2", nav("")), http.StatusFound, ""},
		{"caddy navigation", caddy("GET", "/dash", nav("")), http.StatusFound, ""},
		{"HEAD navigation", traefik("HEAD", "/", nav("")), http.StatusFound, ""},
		{"html accept without fetch metadata", traefik("GET", "/", http.Header{"Accept": {"text/html"}}), http.StatusFound, ""},
		{"xhr", traefik("GET", "/api?q=1", xhr("")), http.StatusUnauthorized, appURL + "/oauth2/start?rd=%2Fapi%3Fq%3D1"},
		{"caddy xhr", caddy("GET", "/api", xhr("")), http.StatusUnauthorized, appURL + "/oauth2/start?rd=%2Fapi"},
		{"form POST is never redirected", traefik("POST", "/form", nav("")), http.StatusUnauthorized, appURL + "/oauth2/start?rd=%2Fform"},
		{"garbage cookie", traefik("GET", "/api", xhr("authbridge=not-a-ticket")), http.StatusUnauthorized, appURL + "/oauth2/start?rd=%2Fapi"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(h, tt.req)
			require.Equal(t, tt.wantStatus, rec.Code, rec.Body.String())
			require.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
			if tt.wantStatus == http.StatusFound {
				require.True(t, strings.HasPrefix(rec.Header().Get("Location"), env.IDPURL+"authorize?"), rec.Header().Get("Location"))
				require.Len(t, rec.Header().Values("Set-Cookie"), 1)
				sc := setCookie(t, rec, loginCookie)
				for _, attr := range []string{"; Path=/", "; Max-Age=600", "; HttpOnly", "; Secure", "; SameSite=Lax"} {
					require.Contains(t, sc, attr)
				}
				return
			}
			require.Empty(t, rec.Header().Get("Location"))
			if strings.HasPrefix(tt.req.Header.Get("Cookie"), "authbridge=") {
				require.Equal(t, []string{clearSession}, rec.Header().Values("Set-Cookie"), "a dead session cookie is cleared")
			} else {
				require.Empty(t, rec.Header().Values("Set-Cookie"), "a 401 sets no cookie")
			}
			require.Equal(t, `Bearer realm="authbridge"`, rec.Header().Get("WWW-Authenticate"))
			require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			var body loginBody
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
			require.Equal(t, loginBody{Error: "unauthenticated", LoginURL: tt.wantLoginURL}, body)
		})
	}
}

func TestLoginThroughFront(t *testing.T) {
	env, h := front(t, enginetest.Options{})
	cookie, cb := login(t, env, h, "/dash?tab=2")
	require.Equal(t, appURL+"/dash?tab=2", cb.Header().Get("Location"))
	require.Equal(t, "no-store", cb.Header().Get("Cache-Control"))
	sc := setCookie(t, cb, "authbridge")
	for _, attr := range []string{"; Path=/", "; Max-Age=604800", "; HttpOnly", "; Secure", "; SameSite=Lax"} {
		require.Contains(t, sc, attr)
	}
	require.Regexp(t, `^authbridge-login-[A-Za-z0-9_-]{8}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax$`, setCookie(t, cb, loginCookie),
		"the pre-auth cookie is cleared once used")

	tests := []struct {
		name string
		req  *http.Request
	}{
		{"traefik navigation", traefik("GET", "/dash", nav(cookie))},
		{"traefik xhr POST", traefik("POST", "/api/items", xhr("theme=dark; "+cookie))},
		{"caddy", caddy("GET", "/", nav(cookie))},
		{"nginx", nginx("GET", "/", nav(cookie))},
		{"nginx DELETE", nginx("DELETE", "/api/items/1", xhr(cookie))},
		{"spoofed identity headers", traefik("GET", "/", http.Header{"Cookie": {cookie}, "Authorization": {"Bearer spoofed"},
			"X-Auth-Request-User": {"mallory"}, "X-Auth-Request-Email": {"m@evil.test"}})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(h, tt.req)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			require.True(t, strings.HasPrefix(rec.Header().Get("Authorization"), "Bearer ey"), "a JWT access token")
			require.Len(t, rec.Header()["Authorization"], 1)
			require.Equal(t, []string{enginetest.Alice.Subject}, rec.Header()["X-Auth-Request-User"])
			require.Equal(t, []string{enginetest.Alice.Email}, rec.Header()["X-Auth-Request-Email"])
			require.Empty(t, rec.Header().Values("Set-Cookie"))
			require.Empty(t, rec.Body.String())
			// The Cookie the upstream should get: the browser's own cookies, never authbridge's.
			require.Len(t, rec.Header()["Cookie"], 1, "always sent, so a gateway that copies it replaces the client's")
			up := rec.Header().Get("Cookie")
			require.NotContains(t, up, "authbridge")
			require.Equal(t, strings.Contains(tt.req.Header.Get("Cookie"), "theme=dark"), up == "theme=dark", up)
		})
	}
}

func TestAllowAlwaysSendsIdentityHeaders(t *testing.T) {
	env, h := front(t, enginetest.Options{})
	// A user whose provider sent no email: seed the session the callback would have stored.
	tk, err := session.NewTicket()
	require.NoError(t, err)
	now := env.Clock.Now()
	require.NoError(t, env.Sessions.Save(context.Background(), tk, &session.Session{
		Subject: "auth0|carol", AccessToken: "carol-access-token", Expiry: now.Add(time.Hour), CreatedAt: now, Touched: now,
	}, time.Hour))
	cookie := "authbridge=" + tk.String()
	spoof := http.Header{"Cookie": {cookie}, "X-Auth-Request-Email": {"carol@evil.test"}, "X-Auth-Request-User": {"mallory"}}
	for name, req := range map[string]*http.Request{
		"traefik": traefik("GET", "/", spoof),
		"caddy":   caddy("GET", "/", spoof),
		"nginx":   nginx("GET", "/", spoof),
	} {
		t.Run(name, func(t *testing.T) {
			rec := serve(h, req)
			require.Equal(t, http.StatusOK, rec.Code)
			require.Equal(t, []string{"Bearer carol-access-token"}, rec.Header()["Authorization"])
			require.Equal(t, []string{"auth0|carol"}, rec.Header()["X-Auth-Request-User"])
			require.Equal(t, []string{""}, rec.Header()["X-Auth-Request-Email"], "present and empty, so a proxy overwrites the client's copy")
		})
	}
}

func TestPolicyRefusal(t *testing.T) {
	env, h := front(t, enginetest.Options{AutoLogin: enginetest.Bob.Username, Engine: authz.Options{Policy: authz.Policy{Groups: []string{"admin"}}}})
	cookie, _ := login(t, env, h, "/")
	for name, req := range map[string]*http.Request{
		"traefik": traefik("GET", "/", nav(cookie)),
		"caddy":   caddy("GET", "/api", xhr(cookie)),
		"nginx":   nginx("GET", "/", nav(cookie)),
	} {
		t.Run(name, func(t *testing.T) {
			rec := serve(h, req)
			require.Equal(t, http.StatusForbidden, rec.Code)
			require.Equal(t, "Forbidden\n", rec.Body.String())
			require.Empty(t, rec.Header()["Authorization"])
			require.Empty(t, rec.Header().Values("Set-Cookie"), "a refusal keeps the session")
		})
	}
}

func TestUnknownPath(t *testing.T) {
	_, h := front(t, enginetest.Options{})
	for _, p := range []string{"/", "/auth/", "/authz", "/oauth2/", "/oauth2/authx", "/oauth2/auth/x", "/favicon.ico"} {
		t.Run(p, func(t *testing.T) {
			rec := serve(h, withHeaders(httptest.NewRequest("GET", p, nil), nav("")))
			require.Equal(t, http.StatusNotFound, rec.Code)
			require.Empty(t, rec.Header().Values("Set-Cookie"))
			require.Empty(t, rec.Header().Get("Location"))
		})
	}
}

// BenchmarkAuthAllowed is /auth with a valid session, from the store and from the in-process cache.
func BenchmarkAuthAllowed(b *testing.B) {
	for _, bc := range []struct {
		name string
		ttl  time.Duration
	}{{"store", 0}, {"cache", time.Minute}} {
		b.Run(bc.name, func(b *testing.B) {
			env, h := front(b, enginetest.Options{CacheTTL: bc.ttl})
			cookie, _ := login(b, env, h, "/")
			req := traefik("GET", "/api/items", xhr(cookie))
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}
