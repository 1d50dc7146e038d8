package authz_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/pkg/authz"
	"github.com/authbridge/authbridge/pkg/session/sessiontest"
)

// docsHost is another allowed host, next to the app; evil.example.test is a sibling that is not.
const docsHost = "docs.example.test"

// What a sign-out request gets.
type signOutVerdict int

const (
	signedOut  signOutVerdict = iota + 1 // redirect to the provider's logout; the session is gone
	confirm                              // 403 page with a POST form; the session lives
	refused                              // 403 plain; the session lives
	notAllowed                           // 405; the session lives
)

// signOutRequest is a sign-out as a browser sends it, with its fetch metadata and sources.
func signOutRequest(method, site, origin, referer, cookie string) *authz.Request {
	return &authz.Request{Front: "test", Method: method, Scheme: "https", Host: enginetest.AppHost, URI: "/oauth2/sign_out?rd=%2Fbye",
		Accept: "text/html,*/*;q=0.8", FetchMode: "navigate", FetchSite: site, Origin: origin, Referer: referer, Cookie: cookie}
}

// TestSignOutOnlyFromOwnSite is rule 8 at the engine: only a sign-out the browser vouches for ends the
// session.
func TestSignOutOnlyFromOwnSite(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{Engine: authz.Options{Redirects: authz.Domains{enginetest.AppHost, docsHost}}})
	const app, docs = "https://" + enginetest.AppHost, "https://" + docsHost
	tests := []struct {
		name                    string
		method, site, org, refr string
		want                    signOutVerdict
	}{
		{"typed URL or bookmark", "GET", "none", "", "", signedOut},
		{"link on the app", "GET", "same-origin", "", app + "/dash", signedOut},
		{"link on the app, no-referrer page", "GET", "same-origin", "", "", signedOut},
		{"cross-site link", "GET", "cross-site", "", "https://evil.test/", confirm},
		{"cross-site img or iframe without referrer", "GET", "cross-site", "", "", confirm},
		{"sibling subdomain (same-site)", "GET", "same-site", "", "https://evil.example.test/", confirm},
		{"same-site without referrer", "GET", "same-site", "", "", confirm},
		{"same-site link from an allowed host", "GET", "same-site", "", docs + "/help", signedOut},
		{"Sec-Fetch-Site not a browser's value", "GET", "same-origin, none", "", "", confirm},
		{"Sec-Fetch-Site in upper case", "GET", "Same-Origin", "", "", confirm},
		{"old browser without referrer", "GET", "", "", "", confirm},
		{"old browser, Referer on the app", "GET", "", "", app + "/dash", signedOut},
		{"old browser, Referer on an evil host", "GET", "", "", "https://evil.test/", confirm},
		{"Referer with the app as user info", "GET", "", "", "https://" + enginetest.AppHost + "@evil.test/", confirm},
		{"Referer on a host ending in the app's", "GET", "", "", "https://" + enginetest.AppHost + ".evil.test/", confirm},
		{"Referer over http for an https request", "GET", "", "", "http://" + enginetest.AppHost + "/", confirm},
		{"Referer on an allowed host over http", "GET", "", "", "http://" + docsHost + "/", confirm},
		{"Referer on an allowed host, other port", "GET", "", "", docs + ":8443/", confirm},
		{"Referer on an allowed host, default port", "GET", "", "", docs + ":443/", signedOut},
		{"Referer not a URL", "GET", "", "", "::not a url", confirm},
		{"Referer javascript:", "GET", "", "", "javascript:alert(1)", confirm},
		{"same-origin fetch but Referer elsewhere", "GET", "same-origin", "", "https://evil.test/", confirm},
		{"typed URL but Origin elsewhere", "GET", "none", "https://evil.test", "", confirm},
		{"Origin null, no fetch metadata", "GET", "", "null", "", confirm},
		{"Origin null, cross-site", "POST", "cross-site", "null", "", refused},
		{"Origin null from a no-referrer page of the app", "POST", "same-origin", "null", "", signedOut},
		{"POST from the confirmation page", "POST", "same-origin", app, app + "/oauth2/sign_out?rd=%2Fbye", signedOut},
		{"POST, old browser, own Origin", "POST", "", app, "", signedOut},
		{"POST, old browser, own Referer only", "POST", "", "", app + "/", signedOut},
		{"POST without Origin or fetch metadata", "POST", "", "", "", refused},
		{"POST cross-site", "POST", "cross-site", "https://evil.test", "", refused},
		{"POST Origin of a sibling subdomain", "POST", "same-site", "https://evil.example.test", "", refused},
		{"POST evil Origin wins over our Referer", "POST", "", "https://evil.test", app + "/", refused},
		{"POST Origin on an allowed host", "POST", "same-site", docs, "", signedOut},
		{"POST Origin on an allowed host over http", "POST", "same-site", "http://" + docsHost, "", refused},
		{"POST Origin with path (not an origin)", "POST", "", "https://evil.test/" + enginetest.AppHost, "", refused},
		{"HEAD, even same-origin", "HEAD", "same-origin", "", "", confirm},
		{"HEAD cross-site", "HEAD", "cross-site", "", "", confirm},
		{"OPTIONS preflight", "OPTIONS", "cross-site", "https://evil.test", "", notAllowed},
		{"PUT same-origin", "PUT", "same-origin", app, "", notAllowed},
		{"DELETE same-origin", "DELETE", "same-origin", app, "", notAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cookie, _ := env.Login(t, "/")
			d, err := env.Engine.Decide(ctx, signOutRequest(tt.method, tt.site, tt.org, tt.refr, cookie))
			require.NoError(t, err)
			require.Equal(t, "no-store", d.Header.Get("Cache-Control"))
			switch tt.want {
			case signedOut:
				require.Equal(t, authz.Redirect, d.Outcome, d.Reason)
				wantStatus := http.StatusFound
				if tt.method == "POST" {
					wantStatus = http.StatusSeeOther
				}
				require.Equal(t, wantStatus, d.Status)
				u, err := url.Parse(d.Location)
				require.NoError(t, err)
				require.Equal(t, env.IDPURL+"oidc/logout", u.Scheme+"://"+u.Host+u.Path)
				require.Equal(t, "https://"+enginetest.AppHost+"/bye", u.Query().Get("post_logout_redirect_uri"))
				requireClears(t, d.Cookies, true)
			case confirm:
				requireConfirmPage(t, d, "/oauth2/sign_out?rd=%2Fbye")
			case refused:
				require.Equal(t, authz.Deny, d.Outcome)
				require.Equal(t, http.StatusForbidden, d.Status)
				require.Equal(t, "text/plain; charset=utf-8", d.Header.Get("Content-Type"))
				require.Empty(t, d.Cookies)
			case notAllowed:
				require.Equal(t, http.StatusMethodNotAllowed, d.Status)
				require.Equal(t, "GET, POST", d.Header.Get("Allow"))
				require.Empty(t, d.Cookies)
			}
			after, err := env.Engine.Decide(ctx, &authz.Request{Method: "GET", Scheme: "https", Host: enginetest.AppHost, URI: "/api", Cookie: cookie})
			require.NoError(t, err)
			require.Equal(t, tt.want != signedOut, after.Outcome == authz.Allow, "the session lives unless signed out")
		})
	}
}

// actionRe finds the confirmation form's action.
var actionRe = regexp.MustCompile(`<form method="post" action="([^"]*)">`)

// requireConfirmPage checks the confirmation page: a 403 that sets nothing, holds no script, and posts
// back to action.
func requireConfirmPage(t *testing.T, d *authz.Decision, action string) {
	t.Helper()
	require.Equal(t, authz.Deny, d.Outcome, d.Reason)
	require.Equal(t, http.StatusForbidden, d.Status, "a 2xx would be an allow to a forward-auth gateway")
	require.Empty(t, d.Cookies)
	require.Equal(t, "text/html; charset=utf-8", d.Header.Get("Content-Type"))
	require.Equal(t, "no-store", d.Header.Get("Cache-Control"))
	require.Equal(t, "default-src 'none'; base-uri 'none'; frame-ancestors 'none'", d.Header.Get("Content-Security-Policy"))
	require.Equal(t, "DENY", d.Header.Get("X-Frame-Options"))
	require.Equal(t, "same-origin", d.Header.Get("Referrer-Policy"), "the POST keeps its Origin")
	require.NotContains(t, strings.ToLower(d.Body), "<script")
	m := actionRe.FindStringSubmatch(d.Body)
	require.NotNil(t, m, d.Body)
	require.Equal(t, action, html.UnescapeString(m[1]))
	require.Equal(t, 1, strings.Count(d.Body, "<form"))
}

// TestSignOutConfirmPageEscapes: whatever rd holds, the page reflects it only URL-encoded inside the
// form's action, and the confirmed POST sends the browser to rd only if it is allowed.
func TestSignOutConfirmPageEscapes(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{})
	tests := []struct{ name, uri, wantAction, wantReturn string }{
		{"no rd", "/oauth2/sign_out", "/oauth2/sign_out", enginetest.LogoutReturn},
		{"relative rd", "/oauth2/sign_out?rd=%2Fbye%3Fa%3D1%26b%3D2", "/oauth2/sign_out?rd=%2Fbye%3Fa%3D1%26b%3D2", "https://" + enginetest.AppHost + "/bye?a=1&b=2"},
		{"markup in rd", "/oauth2/sign_out?rd=%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E", "/oauth2/sign_out?rd=%22%3E%3Cscript%3Ealert%281%29%3C%2Fscript%3E", enginetest.LogoutReturn},
		{"quote and handler in rd", "/oauth2/sign_out?rd=%27+onmouseover%3D%27x", "/oauth2/sign_out?rd=%27+onmouseover%3D%27x", enginetest.LogoutReturn},
		{"javascript rd", "/oauth2/sign_out?rd=javascript:alert(1)", "/oauth2/sign_out?rd=javascript%3Aalert%281%29", enginetest.LogoutReturn},
		{"evil rd", "/oauth2/sign_out?rd=https://evil.test/", "/oauth2/sign_out?rd=https%3A%2F%2Fevil.test%2F", enginetest.LogoutReturn},
		{"rd too long is dropped", "/oauth2/sign_out?rd=%2F" + strings.Repeat("a", authz.MaxReturnURL), "/oauth2/sign_out", enginetest.LogoutReturn},
		{"other parameters are dropped", "/oauth2/sign_out?x=%22%3E%3Cb%3E&rd=%2F", "/oauth2/sign_out?rd=%2F", enginetest.LogoutReturn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cookie, _ := env.Login(t, "/")
			r := signOutRequest("GET", "cross-site", "", "https://evil.test/", cookie)
			r.URI = tt.uri
			d, err := env.Engine.Decide(ctx, r)
			require.NoError(t, err)
			requireConfirmPage(t, d, tt.wantAction)
			require.NotContains(t, d.Body, "<b>")
			require.NotContains(t, d.Body, "onmouseover='")

			// The user presses the button: a same-origin POST to the action.
			post := signOutRequest("POST", "same-origin", "https://"+enginetest.AppHost, "", cookie)
			post.URI = tt.wantAction
			d, err = env.Engine.Decide(ctx, post)
			require.NoError(t, err)
			require.Equal(t, http.StatusSeeOther, d.Status, d.Reason)
			u, err := url.Parse(d.Location)
			require.NoError(t, err)
			require.Equal(t, tt.wantReturn, u.Query().Get("post_logout_redirect_uri"))
		})
	}
}

// TestSignOutEndsEverySessionCookie: a sign-out that carries several session cookies (the user's and
// a tossed one) ends them all and lends neither's ID token to the provider's logout.
func TestSignOutEndsEverySessionCookie(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{})
	alice, _ := env.Login(t, "/")
	bob := "authbridge=" + seed(t, env, "bob")
	d, err := env.Engine.Decide(ctx, enginetest.Navigate("/oauth2/sign_out", bob+"; "+alice))
	require.NoError(t, err)
	require.Equal(t, authz.Redirect, d.Outcome)
	u, err := url.Parse(d.Location)
	require.NoError(t, err)
	require.Empty(t, u.Query().Get("id_token_hint"), "which session's? neither")
	for _, c := range []string{alice, bob} {
		d, err := env.Engine.Decide(ctx, &authz.Request{Method: "GET", Scheme: "https", Host: enginetest.AppHost, URI: "/api", Cookie: c})
		require.NoError(t, err)
		require.Equal(t, http.StatusUnauthorized, d.Status, "both sessions ended")
	}
}

// TestSignOutUnvouchedNeedsNoStore: the confirmation page and the refusals touch nothing, so they are
// answered even while the store is down.
func TestSignOutUnvouchedNeedsNoStore(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{Store: sessiontest.Down{}})
	cookie := "authbridge=" + newTicket(t)
	for _, r := range []*authz.Request{
		signOutRequest("GET", "cross-site", "", "", cookie),
		signOutRequest("POST", "cross-site", "https://evil.test", "", cookie),
		signOutRequest("OPTIONS", "", "", "", cookie),
	} {
		d, err := env.Engine.Decide(ctx, r)
		require.NoError(t, err, r.Method)
		require.Equal(t, authz.Deny, d.Outcome)
	}
	_, err := env.Engine.Decide(ctx, signOutRequest("GET", "same-origin", "", "", cookie))
	require.ErrorIs(t, err, errDown, "a vouched sign-out must reach the store")
}
