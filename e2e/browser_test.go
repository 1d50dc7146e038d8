package e2e_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/browsertest"
)

// newTab opens a tab with its own cookie jar in the shared browser; see browsertest.NewTab.
func newTab(t *testing.T, browser context.Context) context.Context {
	t.Helper()
	return browsertest.NewTab(t, browser, 1280, 800, 60*time.Second)
}

// headerNames lists the names of h without its values, which may be secrets.
func headerNames(h http.Header) []string {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// logIn opens target on the gateway, requires the provider's login form, logs in as user and waits for
// the upstream's page at target.
func logIn(t *testing.T, ctx context.Context, s *stack, base, target, user string) {
	t.Helper()
	browsertest.Do(t, ctx, chromedp.Navigate(base+target), chromedp.WaitVisible(chromedp.ID("username")))
	loc := browsertest.Val(t, ctx, chromedp.Location())
	require.True(t, strings.HasPrefix(loc, s.hydra.uiURL+"/login?login_challenge="), "the provider's login form, at %s", loc)
	browsertest.Do(t, ctx,
		chromedp.SendKeys(chromedp.ID("username"), user),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("headers")),
	)
	require.Equal(t, base+target, browsertest.Val(t, ctx, chromedp.Location()), "back where the login started")
	require.Equal(t, target, browsertest.Val(t, ctx, chromedp.TextContent(chromedp.ID("uri"))), "the upstream's page")
}

// sessionCookie reads authbridge's session cookie for base from the browser over CDP, or nil.
func sessionCookie(t *testing.T, ctx context.Context, base string) *network.Cookie {
	t.Helper()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/"}})
	if err != nil {
		browsertest.Fatal(t, ctx, err)
	}
	for _, c := range res.Cookies {
		if c.Name == cookieName {
			secretsSeen.AddSessionCookie("session cookie", c.Value)
			return c
		}
	}
	return nil
}

// fetchAnswer is what a script on the page saw of a fetch.
type fetchAnswer struct {
	Status int
	Type   string
	Auth   string // WWW-Authenticate
	Body   string
}

// fetchWithoutSession makes a same-origin fetch from the page that carries no cookie, as a script
// whose session is gone would.
func fetchWithoutSession(t *testing.T, ctx context.Context, path string) fetchAnswer {
	t.Helper()
	return browsertest.Val(t, ctx, chromedp.Evaluate[fetchAnswer](`fetch(`+jsString(path)+`, {credentials: 'omit', headers: {Accept: 'application/json'}})
		.then(r => r.text().then(body => ({status: r.status, type: r.headers.get('content-type'),
			auth: r.headers.get('www-authenticate'), body})))`, chromedp.EvalAwaitPromise))
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// accessClaims are the claims of a Hydra JWT access token that the tests look at.
type accessClaims struct {
	Issuer   string         `json:"iss"`
	Subject  string         `json:"sub"`
	ClientID string         `json:"client_id"`
	Expiry   int64          `json:"exp"`
	Ext      map[string]any `json:"ext"`
}

// verifyAccessToken checks token's signature against Hydra's published JWKS and returns its claims.
func verifyAccessToken(t *testing.T, s *stack, token string) accessClaims {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	payload, err := oidc.NewRemoteKeySet(ctx, s.hydra.jwksURL()).VerifySignature(ctx, token)
	require.NoError(t, err, "the upstream's bearer token verifies against Hydra's JWKS")
	var c accessClaims
	require.NoError(t, json.Unmarshal(payload, &c))
	require.Equal(t, s.hydra.issuer, c.Issuer)
	require.Greater(t, c.Expiry, time.Now().Unix(), "not expired")
	return c
}

// requireIdentity checks the identity headers of one upstream request for user, who logged in through
// the authbridge ab: exactly one Authorization, a Hydra JWT naming the user, and one of each of the
// other identity headers, in any spelling. It returns the access token.
func requireIdentity(t *testing.T, s *stack, ab *authbridge, h http.Header, user string) string {
	t.Helper()
	auth := headerValues(h, "Authorization")
	require.Len(t, auth, 1, "exactly one Authorization header upstream, in any spelling: %s", headerNames(h))
	token, ok := strings.CutPrefix(auth[0], "Bearer ")
	require.True(t, ok, "a bearer token")
	c := verifyAccessToken(t, s, token)
	require.Equal(t, user, c.Subject)
	require.Equal(t, ab.clientID, c.ClientID)
	require.Equal(t, user+"@example.com", c.Ext["email"])
	require.Equal(t, []string{user}, headerValues(h, "X-Auth-Request-User"))
	require.Equal(t, []string{user + "@example.com"}, headerValues(h, "X-Auth-Request-Email"))
	return token
}
