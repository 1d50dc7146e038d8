package e2e_test

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/browsertest"
	"github.com/authbridge/authbridge/pkg/authz"
)

// gatewayUnderTest is one gateway in front of an upstream, and the authbridge it asks.
type gatewayUnderTest struct {
	base string // http://127.0.0.1:port
	up   *upstream
	ab   *authbridge
	// spoofs are the client-sent headers that must not reach the upstream, with forged values.
	spoofs http.Header
}

// forged are the identity headers a client may send to pass as someone else, in the spellings that
// proxies and frameworks map onto one another. Written as raw keys: Go sends them exactly so.
func forged() http.Header {
	return http.Header{
		"Authorization":        {"Bearer forged"},
		"authorization":        {"Bearer forged-lower"},
		"X-Auth-Request-User":  {"mallory"},
		"x-auth-request-user":  {"mallory-lower"},
		"X_Auth_Request_User":  {"mallory-underscore"},
		"X.Auth.Request.User":  {"mallory-dot"},
		"X-AUTH-REQUEST-EMAIL": {"mallory@forged.test"},
		"x_auth_request_email": {"mallory-underscore@forged.test"},
	}
}

// forgedAll adds every other header that some proxy or app trusts for identity (authz's list), in its
// '-' and '_' spellings, none of which authbridge sends; nginx, Caddy and Traefik drop those too.
func forgedAll() http.Header { return forgedIdentity(true) }

// forgedNamed is forgedAll without unnamed members of the header families (X-Auth-Request-Forged): nginx
// can clear named headers only, and a family has no end of names (documented in the README).
func forgedNamed() http.Header { return forgedIdentity(false) }

func forgedIdentity(families bool) http.Header {
	h := forged()
	h["X-Auth-Request-Groups"] = []string{"forged-admins"}
	h["X_Auth_Request_Groups"] = []string{"forged-admins-underscore"}
	for i, k := range trustedIdentitySpellings(families) {
		if _, ok := h[k]; !ok && !strings.EqualFold(k, "authorization") {
			h[k] = []string{"forged-" + strconv.Itoa(i)}
		}
	}
	return h
}

// trustedIdentitySpellings are authz's identity headers (and, with families, a family's prefix plus
// "Forged") in canonical and '_' spellings.
func trustedIdentitySpellings(families bool) []string {
	names, prefixes := authz.TrustedIdentityHeaders()
	for _, p := range prefixes {
		if families {
			names = append(names, p+"forged")
		}
	}
	var out []string
	for _, n := range names {
		out = append(out, http.CanonicalHeaderKey(n), strings.ReplaceAll(n, "-", "_"))
	}
	return out
}

var noRedirects = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// get sends a GET to the gateway with raw headers and an optional session cookie value.
func (g gatewayUnderTest) get(t *testing.T, uri string, h http.Header, session string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, g.base+uri, nil)
	require.NoError(t, err)
	for k, vs := range h {
		req.Header[k] = append([]string(nil), vs...)
	}
	if session != "" {
		secretsSeen.AddSessionCookie("session cookie", session)
		req.AddCookie(&http.Cookie{Name: cookieName, Value: session})
	}
	resp, err := noRedirects.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

// runGatewayFlow is what every gateway must do: a browser logs in through it; the upstream gets one
// Authorization header, a JWT from Hydra naming the user; the session cookie is HttpOnly and
// SameSite=Lax; a script without a session gets 401; identity headers sent by the client never reach the
// upstream; sign-out ends the session for good.
func runGatewayFlow(t *testing.T, s *stack, g gatewayUnderTest) {
	ctx := newTab(t, s.browser)
	const target = "/hello?from=browser"
	logIn(t, ctx, s, g.base, target, "alice")

	req, ok := g.up.last(target)
	require.True(t, ok, "the upstream got the request")
	token := requireIdentity(t, s, g.ab, req.Header, "alice")
	cookie := sessionCookie(t, ctx, g.base)
	require.NotNil(t, cookie, "the browser holds the session cookie")
	// Every gateway replaces the upstream's Cookie with authbridge's answer (ext_authz, Traefik, nginx)
	// or cuts authbridge's cookies out itself (Caddy): the session is the browser's credential.
	for _, c := range req.Header.Values("Cookie") {
		require.False(t, strings.Contains(c, cookieName), "the upstream does not see authbridge's cookies: %d bytes", len(c))
	}

	t.Run("cookie", func(t *testing.T) {
		require.True(t, cookie.HTTPOnly)
		require.Equal(t, network.CookieSameSiteLax, cookie.SameSite)
		// Plain http here, so session.cookie.secure is false; Secure (the default) is asserted by the
		// unit tests of pkg/authz and pkg/config.
		require.False(t, cookie.Secure)
		require.Equal(t, "/", cookie.Path)
		require.False(t, strings.Contains(cookie.Value, token[:20]), "the cookie carries no token")
		require.False(t, strings.Contains(browsertest.Val(t, ctx, chromedp.Evaluate[string](`document.cookie`)), cookieName+"="), "scripts cannot read it")
	})

	t.Run("no token reachable from the page", func(t *testing.T) {
		// The page's own scripts, with the session cookie, ask every endpoint that answers a gateway
		// with the token, through this gateway: no answer header carries the bearer. (Where the gateway
		// passes the path on to the app, the test upstream echoes the request it got, bearer included,
		// in its body: that is the app's business, so only headers are checked here.)
		for _, u := range []string{"/oauth2/auth", "/auth", "/oauth2/auth?x=1", "/oauth2//auth"} {
			got := browsertest.Val(t, ctx, chromedp.Evaluate[string](`fetch(`+jsString(u)+`, {credentials: 'include'})
				.then(r => [...r.headers].map(h => h.join(': ')).join('\n'), e => 'failed: ' + e)`, chromedp.EvalAwaitPromise))
			require.False(t, strings.Contains(got, token), "%s answered the page with the access token", u)
			require.NotContains(t, strings.ToLower(got), "authorization:", u)
		}
		// And as a raw client with the cookie, not limited by CORS: the browser-facing listener never
		// answers /oauth2/auth or /auth, whatever the method.
		for _, p := range []string{"/oauth2/auth", "/auth"} {
			for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodHead} {
				req, err := http.NewRequest(m, "http://"+g.ab.http+p, nil)
				require.NoError(t, err)
				req.AddCookie(&http.Cookie{Name: cookieName, Value: cookie.Value})
				req.Header.Set("X-Original-Url", g.base+"/hello")
				req.Header.Set("X-Forwarded-Uri", "/hello")
				resp, err := noRedirects.Do(req)
				require.NoError(t, err)
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				require.Equal(t, http.StatusNotFound, resp.StatusCode, "%s %s", m, p)
				require.Empty(t, resp.Header.Get("Authorization"))
				require.False(t, strings.Contains(string(body), token))
			}
		}
	})

	t.Run("script without session gets 401", func(t *testing.T) {
		n := g.up.count()
		a := fetchWithoutSession(t, ctx, "/api/items")
		require.Equal(t, http.StatusUnauthorized, a.Status)
		require.Equal(t, "application/json", a.Type)
		require.Equal(t, `Bearer realm="authbridge"`, a.Auth)
		require.Contains(t, a.Body, `"error":"unauthenticated"`)
		require.Equal(t, n, g.up.count(), "the upstream is not asked")
	})

	t.Run("client-sent identity headers never reach the upstream", func(t *testing.T) {
		// One forged header at a time must pass with the session's own identity; all of them at once
		// may also be refused (nginx answers 400 to a repeated Authorization).
		for k, vs := range g.spoofs {
			uri := "/spoof/" + k
			resp, body := g.get(t, uri, http.Header{k: vs}, cookie.Value)
			require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", k, body)
			got, ok := g.up.last(uri)
			require.True(t, ok, k)
			requireNoForged(t, s, g, got.Header, token)
		}
		n := g.up.count()
		resp, body := g.get(t, "/spoof/all", g.spoofs, cookie.Value)
		if resp.StatusCode == http.StatusOK {
			got, ok := g.up.last("/spoof/all")
			require.True(t, ok)
			requireNoForged(t, s, g, got.Header, token)
		} else {
			require.Equal(t, http.StatusBadRequest, resp.StatusCode, body)
			require.Equal(t, n, g.up.count(), "the upstream is not asked")
		}

		// Without a session the forged headers get nowhere at all.
		n = g.up.count()
		for k, vs := range g.spoofs {
			resp, body := g.get(t, "/spoof/anonymous", http.Header{k: vs, "Accept": {"application/json"}}, "")
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "%s: %s", k, body)
		}
		require.Equal(t, n, g.up.count(), "the upstream is not asked")
	})

	t.Run("sign-out", func(t *testing.T) {
		logouts := s.hydra.logoutsOf(g.ab.clientID)
		// Back at the app's root after the provider's logout, the browser has no session and is sent
		// to log in again: the provider's session is gone too, so it shows its form.
		browsertest.Do(t, ctx, chromedp.Navigate(g.base+"/oauth2/sign_out?rd=/"), chromedp.WaitVisible(chromedp.ID("username")))
		loc := browsertest.Val(t, ctx, chromedp.Location())
		require.True(t, strings.HasPrefix(loc, s.hydra.uiURL+"/login?"), "the login form after sign-out, at %s", loc)
		require.Equal(t, logouts+1, s.hydra.logoutsOf(g.ab.clientID), "the provider's logout was visited")
		require.Nil(t, sessionCookie(t, ctx, g.base), "the browser's session cookie is cleared")
		resp, _ := g.get(t, "/after-sign-out", http.Header{"Accept": {"application/json"}}, cookie.Value)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "the old cookie is worthless")
		_, reached := g.up.last("/after-sign-out")
		require.False(t, reached)
	})

	// Checked without printing: a failure must not put the secrets into the test output either.
	require.False(t, strings.Contains(g.ab.proc.log(), cookie.Value), "authbridge never logs the cookie")
	require.False(t, strings.Contains(g.ab.proc.log(), token), "authbridge never logs the token")
}

// requireNoForged checks that an upstream request carries the session's identity and none of the
// forged headers or values.
func requireNoForged(t *testing.T, s *stack, g gatewayUnderTest, h http.Header, token string) {
	t.Helper()
	require.True(t, token == requireIdentity(t, s, g.ab, h, "alice"), "the session's own token")
	for k, vs := range h {
		for _, v := range vs {
			require.NotContains(t, v, "forged", "%s reached the upstream", k)
			require.NotContains(t, v, "mallory", "%s reached the upstream", k)
		}
	}
	for k := range g.spoofs {
		if !sameHeaderName(k, "Authorization") && !sameHeaderName(k, "X-Auth-Request-User") && !sameHeaderName(k, "X-Auth-Request-Email") {
			require.Empty(t, headerValues(h, k), "%s reached the upstream", k)
		}
	}
}
