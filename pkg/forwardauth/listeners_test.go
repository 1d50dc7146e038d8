package forwardauth_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/pkg/forwardauth"
)

// TestBrowserListenerNeverAnswersWithAToken is the structural half of "no route a browser can reach
// ever answers with a token": the browser-facing listener, asked by a logged-in browser (or by anything
// posing as a gateway) on any path or spelling of one, never returns the access token — not in a header,
// not in a body. Only the gateway-only listener serves /auth and /oauth2/auth.
func TestBrowserListenerNeverAnswersWithAToken(t *testing.T) {
	env, both := front(t, enginetest.Options{AutoLogin: enginetest.Alice.Username})
	cookie, _ := login(t, env, both, "/")
	// Proof that the cookie is live: the gateway listener allows it with the bearer.
	rec := serve(both, traefik("GET", "/api", xhr(cookie)))
	require.Equal(t, http.StatusOK, rec.Code)
	bearer := rec.Header().Get("Authorization")
	require.True(t, strings.HasPrefix(bearer, "Bearer "), bearer)
	token := strings.TrimPrefix(bearer, "Bearer ")

	browser := forwardauth.NewBrowser(env.Engine, forwardauth.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}})
	paths := []string{
		"/auth", "/auth?x=1", "/auth/", "/Auth", "/AUTH", "//auth", "/./auth", "/oauth2/../auth", "/%61uth",
		"/oauth2/auth", "/oauth2/auth/", "/oauth2//auth", "/oauth2/./auth", "/OAUTH2/AUTH", "/oauth2/%61uth",
		"/oauth2/auth?route=admin", "/oauth2/auth;x", "/auth;x", "/auth%00", "/auth%2f",
		"/oauth2/start", "/oauth2/start?rd=%2F", "/oauth2/callback", "/oauth2/sign_out", "/oauth2/backchannel_logout",
		"/oauth2/userinfo", "/", "/api", "/metrics", "/readyz",
	}
	for _, p := range paths {
		for _, method := range []string{"GET", "HEAD", "POST", "OPTIONS"} {
			t.Run(method+" "+p, func(t *testing.T) {
				// As the browser's own fetch sends it, as Traefik's and as nginx's subrequests would.
				for _, extra := range []http.Header{
					{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {enginetest.AppHost}},
					{"X-Forwarded-Method": {"GET"}, "X-Forwarded-Uri": {"/api"}, "X-Forwarded-Host": {enginetest.AppHost}},
					{"X-Original-Url": {appURL + "/api"}, "X-Original-Method": {"GET"}},
				} {
					r := withHeaders(withHeaders(httptest.NewRequest(method, "http://authbridge:4180"+p, nil), xhr(cookie)), extra)
					r.RemoteAddr = gateway
					rec := serve(browser, r)
					require.Empty(t, rec.Header().Get("Authorization"))
					for k, vs := range rec.Header() {
						for _, v := range vs {
							require.NotContains(t, v, token, "header %s", k)
						}
					}
					require.NotContains(t, rec.Body.String(), token)
				}
			})
		}
	}
}

// TestGatewayListenerServesOnlyTheChecks: the gateway-only listener answers /auth and /oauth2/auth and
// nothing else (a login start or sign-out there would be a gateway misconfiguration).
func TestGatewayListenerServesOnlyTheChecks(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{})
	gw := forwardauth.NewGateway(env.Engine, forwardauth.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	for _, p := range []string{"/", "/oauth2/start", "/oauth2/callback?state=x&code=y", "/oauth2/sign_out", "/oauth2/backchannel_logout", "/oauth2/userinfo", "/metrics"} {
		rec := serve(gw, direct(p, nav("")))
		require.Equal(t, http.StatusNotFound, rec.Code, p)
	}
	rec := serve(gw, traefik("GET", "/api", xhr("")))
	require.Equal(t, http.StatusUnauthorized, rec.Code)
}

// TestBrowserListenerNamesTheRightPort: a gateway pointed at the browser-facing port gets a 404 that
// tells the operator where the check lives.
func TestBrowserListenerNamesTheRightPort(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{})
	browser := forwardauth.NewBrowser(env.Engine, forwardauth.Options{})
	for _, p := range []string{forwardauth.PathAuth, forwardauth.PathNginxAuth} {
		rec := serve(browser, httptest.NewRequest("GET", "http://authbridge:4180"+p, nil))
		require.Equal(t, http.StatusNotFound, rec.Code)
		require.Contains(t, rec.Body.String(), "listen.forward_auth")
	}
}

// TestDecisiveHeadersComeOnce: the headers a decision rests on (the credential, and what vouches for a
// sign-out) given twice are refused with 400 on both listeners, never read as the first copy; the engine
// is not asked (a nil engine would panic).
func TestDecisiveHeadersComeOnce(t *testing.T) {
	gw := forwardauth.NewGateway(nil, forwardauth.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	browser := forwardauth.NewBrowser(nil, forwardauth.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	for _, k := range []string{"Authorization", "Sec-Fetch-Mode", "Sec-Fetch-Site", "Origin", "Referer"} {
		two := http.Header{k: {"a", "b"}}
		rec := serve(gw, traefik("GET", "/api", two))
		require.Equal(t, http.StatusBadRequest, rec.Code, k)
		rec = serve(browser, direct("/oauth2/sign_out", two))
		require.Equal(t, http.StatusBadRequest, rec.Code, k)
	}
	for _, k := range []string{"Sec-Fetch-Site", "Origin"} {
		rec := serve(browser, direct("/oauth2/sign_out", http.Header{k: {"same-origin, cross-site"}}))
		require.Equal(t, http.StatusBadRequest, rec.Code, "%s holds a list", k)
	}
}
