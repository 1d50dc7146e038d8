package demo

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/browsertest"
)

const chromiumPath = browsertest.ChromiumPath

// TestBrowser is the demo's promise, proven in headless Chromium for both gateway modes: log in through
// the provider's form, see the bearer token upstream while scripts cannot see the cookie, get 401 JSON
// from fetch without a session, get a new token after expiry without a login page, and sign out for
// good. UPDATE_SCREENSHOT=1 also writes docs/demo.png.
func TestBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("AUTHBRIDGE_ALLOW_SKIP") == "1" {
			t.Skipf("no chromium at %s", chromiumPath)
		}
		t.Fatalf("no chromium at %s: apt-get install -y chromium (or AUTHBRIDGE_ALLOW_SKIP=1 to skip)", chromiumPath)
	}
	browser := startBrowser(t)
	t.Run("modes", func(t *testing.T) { // waits for its parallel subtests before the browser stops
		for _, mode := range []string{GatewayGRPC, GatewayHTTP} {
			t.Run(mode, func(t *testing.T) {
				t.Parallel()
				browserFlow(t, newTab(t, browser), mode)
			})
		}
		if os.Getenv("UPDATE_SCREENSHOT") == "1" {
			t.Run("screenshot", func(t *testing.T) {
				t.Parallel()
				writeScreenshot(t, newTab(t, browser))
			})
		}
	})
}

// startBrowser starts one headless Chromium for the whole test; the subtests open tabs in it.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	ctx, stop, err := browsertest.Start(t.TempDir(), 1280, 800)
	require.NoError(t, err, "start chromium")
	t.Cleanup(stop)
	return ctx
}

// newTab opens a 1280x800 tab with its own cookie jar; see browsertest.NewTab.
func newTab(t *testing.T, browser context.Context) context.Context {
	t.Helper()
	return browsertest.NewTab(t, browser, 1280, 800, 40*time.Second)
}

// logIn opens the app, requires the provider's login page, logs in, and returns the page's token.
func logIn(t *testing.T, ctx context.Context, s *stack, user, password string) string {
	t.Helper()
	browsertest.Do(t, ctx, chromedp.Navigate(s.urls.App), chromedp.WaitVisible(chromedp.ID("username")))
	loc := browsertest.Val(t, ctx, chromedp.Location())
	require.True(t, strings.HasPrefix(loc, s.urls.IdP+"authorize?"), "login page at %s", loc)
	browsertest.Do(t, ctx,
		chromedp.SendKeys(chromedp.ID("username"), user),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("token")),
	)
	require.Equal(t, s.urls.App, browsertest.Val(t, ctx, chromedp.Location()), "back on the app after login")
	return browsertest.Val(t, ctx, chromedp.TextContent(chromedp.ID("token")))
}

// apiStatus200 waits until the page's API result shows a 200.
var apiStatus200 = chromedp.Poll[chromedp.Void](`document.getElementById('api-status').textContent.startsWith('200')`,
	chromedp.WithPollingInterval(50*time.Millisecond))

func browserFlow(t *testing.T, ctx context.Context, mode string) {
	s := startDemo(t, Options{Gateway: mode, TokenTTL: 4 * time.Second, RefreshAhead: time.Second})

	token := logIn(t, ctx, s, "alice", "alice-demo")
	atLogin := s.idp.Stats()
	claims := jwtClaims(t, token)
	require.Equal(t, "auth0|alice", claims["sub"])
	require.Contains(t, claims["aud"], audience)
	require.Equal(t, []any{"admin"}, claims["groups"])
	require.Equal(t, "alice@example.com", browsertest.Val(t, ctx, chromedp.TextContent(chromedp.ID("email"))), "X-Auth-Request-Email reached the upstream")
	require.Equal(t, "auth0|alice", browsertest.Val(t, ctx, chromedp.TextContent(chromedp.ID("sub"))))

	// The session cookie exists, but scripts cannot see it.
	require.NotContains(t, browsertest.Val(t, ctx, chromedp.Evaluate[string](`document.cookie`)), CookieName+"=")
	cookie := sessionCookie(t, ctx, s)
	require.NotNil(t, cookie, "the browser holds the session cookie")
	require.True(t, cookie.HTTPOnly)
	require.NotContains(t, cookie.Value, token[:20], "the cookie carries no token")

	// The page's own fetch carries the cookie and gets the identity; without the cookie it is 401 JSON.
	browsertest.Do(t, ctx, chromedp.Click(chromedp.ID("call-api")), apiStatus200)
	require.Contains(t, browsertest.Val(t, ctx, chromedp.TextContent(chromedp.ID("api-status"))), "application/json")
	type answer struct {
		Status int
		Type   string
		Body   string
	}
	anon := browsertest.Val(t, ctx, chromedp.Evaluate[answer](`fetch('/api/whoami', {credentials: 'omit', headers: {Accept: 'application/json'}})
		.then(r => r.text().then(body => ({status: r.status, type: r.headers.get('content-type'), body})))`,
		chromedp.EvalAwaitPromise))
	require.Equal(t, http.StatusUnauthorized, anon.Status)
	require.Equal(t, "application/json", anon.Type)
	require.Contains(t, anon.Body, `"error":"unauthenticated"`)

	requirePNG(t, browsertest.Val(t, ctx, chromedp.CaptureScreenshot()))

	// Once the access token has expired, the next page load carries a new one: refreshed with the
	// refresh token, with no login page and no new authorization code since the login.
	browsertest.Do(t, ctx,
		chromedp.Poll[chromedp.Void](`Date.now() / 1000 >= Number(document.body.dataset.exp)`, chromedp.WithPollingInterval(100*time.Millisecond)),
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.ID("token")),
	)
	require.Equal(t, s.urls.App, browsertest.Val(t, ctx, chromedp.Location()))
	token2 := browsertest.Val(t, ctx, chromedp.TextContent(chromedp.ID("token")))
	require.NotEqual(t, token, token2, "a new access token after expiry")
	require.Equal(t, "auth0|alice", jwtClaims(t, token2)["sub"])
	require.Greater(t, jwtClaims(t, token2)["exp"], claims["exp"])
	after := s.idp.Stats()
	require.Equal(t, atLogin.Logins, after.Logins, "no login form was submitted")
	require.Equal(t, atLogin.TokenCalls["authorization_code"], after.TokenCalls["authorization_code"], "no new login")
	require.Greater(t, after.TokenCalls["refresh_token"], atLogin.TokenCalls["refresh_token"], "refreshed")
	require.Zero(t, after.RevokedFamilies, "no refresh token was reused")

	// Sign-out ends the session everywhere: the browser is back at the login page and the old cookie,
	// replayed by another client, is worthless.
	old := sessionCookie(t, ctx, s)
	require.NotNil(t, old)
	browsertest.Do(t, ctx, chromedp.Click(chromedp.ID("signout")), chromedp.WaitVisible(chromedp.ID("username")))
	loc := browsertest.Val(t, ctx, chromedp.Location())
	require.True(t, strings.HasPrefix(loc, s.urls.IdP+"authorize?"), "login page after sign-out, at %s", loc)
	require.Nil(t, sessionCookie(t, ctx, s), "the browser's session cookie is cleared")
	replay := func(accept string) *http.Response {
		req, err := http.NewRequest(http.MethodGet, s.urls.App+"api/whoami", nil)
		require.NoError(t, err)
		req.Header.Set("Accept", accept)
		req.AddCookie(&http.Cookie{Name: CookieName, Value: old.Value})
		resp, err := noRedirects.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	require.Equal(t, http.StatusUnauthorized, replay("application/json").StatusCode)
	nav := replay("text/html")
	require.Equal(t, http.StatusFound, nav.StatusCode)
	require.True(t, strings.HasPrefix(nav.Header.Get("Location"), s.urls.IdP+"authorize?"))
}

var noRedirects = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// sessionCookie reads authbridge's cookie for the app from the browser over CDP, or nil.
func sessionCookie(t *testing.T, ctx context.Context, s *stack) *network.Cookie {
	t.Helper()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{s.urls.App}})
	if err != nil {
		browsertest.Fatal(t, ctx, err)
	}
	for _, c := range res.Cookies {
		if c.Name == CookieName {
			return c
		}
	}
	return nil
}

// jwtClaims decodes a JWT's payload without verifying it.
func jwtClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	require.Len(t, parts, 3, "a JWT")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var claims map[string]any
	require.NoError(t, json.Unmarshal(raw, &claims))
	return claims
}

func requirePNG(t *testing.T, b []byte) {
	t.Helper()
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	require.NoError(t, err)
	require.Equal(t, 1280, cfg.Width)
	require.Equal(t, 800, cfg.Height)
}

// writeScreenshot logs alice in with the demo's default token lifetime and writes the page, with the
// API answer shown, to docs/demo.png.
func writeScreenshot(t *testing.T, ctx context.Context) {
	s := startDemo(t, Options{})
	logIn(t, ctx, s, "alice", "alice-demo")
	browsertest.Do(t, ctx, chromedp.Click(chromedp.ID("call-api")), apiStatus200)
	shot := browsertest.Val(t, ctx, chromedp.CaptureScreenshot())
	requirePNG(t, shot)
	require.NoError(t, os.WriteFile(filepath.Join("..", "..", "docs", "demo.png"), shot, 0o644))
}
