package devidp_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/authbridge/authbridge/internal/testkit"
	"github.com/authbridge/authbridge/pkg/devidp"
)

const (
	redirectURI = "http://app.example/callback"
	logoutURL   = "http://app.example/bye"
	audience    = "https://api.example"
)

// clock is a settable time source shared by the provider and the verifiers.
type clock = testkit.Clock

// fixture is a provider on a real HTTP server plus a go-oidc/x/oauth2 client for it.
type fixture struct {
	idp      *devidp.IDP
	clock    *clock
	issuer   string
	provider *oidc.Provider
	oauth    oauth2.Config
}

func testOptions(issuer string, clk *clock) devidp.Options {
	return devidp.Options{
		Issuer: issuer,
		Clients: []devidp.Client{
			{ID: "app", Secret: "app-secret", RedirectURIs: []string{redirectURI}, LogoutURLs: []string{logoutURL}},
			{ID: "other", Secret: "other-secret", RedirectURIs: []string{redirectURI}},
		},
		Users: []devidp.User{
			{Username: "alice", Password: "alice-pw", Email: "alice@example.com", Name: "Alice", Groups: []string{"admins", "dev"}},
			{Username: "bob", Password: "bob-pw", Subject: "auth0|bob-id", Email: "bob@example.com", Name: "Bob"},
		},
		Audience: audience,
		Now:      clk.Now,
	}
}

// newFixture starts a provider; edit may change the options (AutoLogin is "alice" unless edited).
func newFixture(t *testing.T, edit func(*devidp.Options)) *fixture {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String() + "/"
	clk := testkit.NewClock(time.Now())
	o := testOptions(issuer, clk)
	o.AutoLogin = "alice"
	if edit != nil {
		edit(&o)
	}
	idp, err := devidp.New(o)
	require.NoError(t, err)
	srv.Config.Handler = idp.Handler()
	srv.Start()
	t.Cleanup(srv.Close)

	provider, err := oidc.NewProvider(t.Context(), issuer)
	require.NoError(t, err)
	ep := provider.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInHeader // no auto-detect retries, so call counts are exact
	return &fixture{idp: idp, clock: clk, issuer: issuer, provider: provider, oauth: oauth2.Config{
		ClientID: "app", ClientSecret: "app-secret", Endpoint: ep, RedirectURL: redirectURI,
		Scopes: []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess},
	}}
}

// newBrowser is a client with a cookie jar that stops at every redirect, like a browser we drive by hand.
func newBrowser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// attempt is one authorization request's client-side secrets.
type attempt struct {
	verifier, state, nonce string
}

// start sends the browser to the authorization endpoint with PKCE, state, nonce and the audience.
func (f *fixture) start(t *testing.T, b *http.Client, opts ...oauth2.AuthCodeOption) (*http.Response, attempt) {
	t.Helper()
	a := attempt{verifier: oauth2.GenerateVerifier(), state: "st-" + oauth2.GenerateVerifier()[:8], nonce: "n-" + oauth2.GenerateVerifier()[:8]}
	opts = append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(a.verifier), oidc.Nonce(a.nonce),
		oauth2.SetAuthURLParam("audience", audience)}, opts...)
	return get(t, b, f.oauth.AuthCodeURL(a.state, opts...)), a
}

// get fetches u and buffers the body so the response can be inspected after close.
func get(t *testing.T, b *http.Client, u string) *http.Response {
	t.Helper()
	resp, err := b.Get(u)
	require.NoError(t, err)
	return buffer(t, resp)
}

func buffer(t *testing.T, resp *http.Response) *http.Response {
	t.Helper()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	resp.Body = io.NopCloser(strings.NewReader(string(body)))
	return resp
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Body = io.NopCloser(strings.NewReader(string(b)))
	return string(b)
}

var formToken = regexp.MustCompile(`name="form_token" value="([^"]+)"`)

// submit posts credentials to the login form that resp rendered.
func submit(t *testing.T, b *http.Client, form *http.Response, user, pass string) *http.Response {
	t.Helper()
	require.Equal(t, http.StatusOK, form.StatusCode)
	m := formToken.FindStringSubmatch(body(t, form))
	require.NotNil(t, m, "no login form")
	action, err := form.Request.URL.Parse("/login")
	require.NoError(t, err)
	resp, err := b.PostForm(action.String(), url.Values{"form_token": {m[1]}, "username": {user}, "password": {pass}})
	require.NoError(t, err)
	return buffer(t, resp)
}

// code checks that resp redirects to the client with state and returns the code.
func code(t *testing.T, resp *http.Response, a attempt) string {
	t.Helper()
	require.Equal(t, http.StatusFound, resp.StatusCode, body(t, resp))
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, redirectURI, loc.Scheme+"://"+loc.Host+loc.Path)
	require.Empty(t, loc.Query().Get("error"), loc.Query().Get("error_description"))
	require.Equal(t, a.state, loc.Query().Get("state"))
	require.NotEmpty(t, loc.Query().Get("code"))
	return loc.Query().Get("code")
}

// login runs the AutoLogin code flow in a fresh browser and exchanges the code.
func (f *fixture) login(t *testing.T) (*oauth2.Token, attempt) {
	t.Helper()
	resp, a := f.start(t, newBrowser(t))
	tok, err := f.oauth.Exchange(t.Context(), code(t, resp, a), oauth2.VerifierOption(a.verifier))
	require.NoError(t, err)
	return tok, a
}

// refresh exchanges a refresh token the way x/oauth2 does when an access token expires.
func (f *fixture) refresh(t *testing.T, rt string) (*oauth2.Token, error) {
	return f.oauth.TokenSource(t.Context(), &oauth2.Token{RefreshToken: rt}).Token()
}

// requireOAuthError checks an x/oauth2 error's HTTP status and OAuth error code.
func requireOAuthError(t *testing.T, err error, status int, code string) {
	t.Helper()
	var re *oauth2.RetrieveError
	require.True(t, errors.As(err, &re), "want RetrieveError, got %v", err)
	require.Equal(t, status, re.Response.StatusCode)
	require.Equal(t, code, re.ErrorCode)
}

// verifier checks ID tokens (aud "app") or access tokens (aud audience) against the JWKS.
func (f *fixture) verifier(aud string) *oidc.IDTokenVerifier {
	return f.provider.Verifier(&oidc.Config{ClientID: aud, Now: f.clock.Now})
}
