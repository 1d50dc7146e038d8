package forwardauth_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/pkg/authz"
	"github.com/authbridge/authbridge/pkg/session"
)

// seedSession stores a session for subject and returns its cookie value.
func seedSession(t *testing.T, env *enginetest.Env, subject string) string {
	t.Helper()
	tk, err := session.NewTicket()
	require.NoError(t, err)
	now := env.Clock.Now()
	require.NoError(t, env.Sessions.Save(context.Background(), tk, &session.Session{Subject: subject, AccessToken: subject + "-token",
		Expiry: now.Add(time.Hour), CreatedAt: now, Touched: now}, time.Hour))
	return tk.String()
}

// withCookies sets the browser's Cookie header lines, one per entry, as a browser on HTTP/2 splits them.
func withCookies(h http.Header, lines ...string) http.Header {
	h.Del("Cookie")
	h["Cookie"] = lines
	return h
}

// TestCookiesStrictOnTheWire is rule 3 on every HTTP front: a navigation through Traefik, a script's fetch
// through Caddy, and nginx's auth_request.
func TestCookiesStrictOnTheWire(t *testing.T) {
	env, h := front(t, enginetest.Options{})
	alice, bob := seedSession(t, env, "alice"), seedSession(t, env, "bob")
	const (
		allow = iota + 1
		kept  // no session, nothing cleared
		clear // no session, the session cookie cleared
		large // 431 (nginx: 401)
	)
	small := make([]string, 5000)
	for i := range small {
		small[i] = "c=1"
	}
	tests := []struct {
		name  string
		lines []string // the browser's Cookie header lines
		want  int
	}{
		{"one session", []string{"authbridge=" + alice}, allow},
		{"review: bob's tossed ahead of alice's", []string{"authbridge=" + bob + "; authbridge=" + alice}, kept},
		{"split across Cookie headers", []string{"authbridge=" + alice, "authbridge=" + bob}, kept},
		{"split, app cookie in its own header", []string{"theme=dark", "authbridge=" + alice}, allow},
		{"case variant", []string{"authbridge=" + alice + "; AuthBridge=" + bob}, allow},
		{"comma-folded", []string{"authbridge=" + alice + ", authbridge=" + bob}, kept},
		{"pending logins next to the session", []string{"authbridge-login-AAAAAAAA=x; authbridge=" + alice, "authbridge-login=y"}, allow},
		{"garbage", []string{"authbridge=not-a-ticket"}, clear},
		{"quoted", []string{`authbridge="` + alice + `"`}, clear},
		{"empty", []string{"authbridge="}, clear},
		{"unknown ticket", []string{"authbridge=" + strings.Repeat("A", len(alice))}, clear},
		{"5000 small cookies", []string{strings.Join(small, "; ") + "; authbridge=" + alice}, large},
		{"one 9 KiB cookie", []string{"big=" + strings.Repeat("x", 9<<10), "authbridge=" + alice}, large},
		{"over 8 KiB only once joined", []string{"a=" + strings.Repeat("x", 4<<10), "b=" + strings.Repeat("x", 4<<10) + "; authbridge=" + alice}, large},
	}
	for _, tt := range tests {
		shapes := map[string]*http.Request{
			"traefik navigation": traefik("GET", "/dash", withCookies(nav(""), tt.lines...)),
			"caddy fetch":        caddy("GET", "/api", withCookies(xhr(""), tt.lines...)),
			"nginx":              nginx("GET", "/dash", withCookies(nav(""), tt.lines...)),
		}
		for shape, req := range shapes {
			t.Run(tt.name+"/"+shape, func(t *testing.T) {
				rec := serve(h, req)
				sc := rec.Header().Values("Set-Cookie")
				require.NotContains(t, rec.Body.String(), alice)
				switch tt.want {
				case allow:
					require.Equal(t, http.StatusOK, rec.Code)
					require.Equal(t, "Bearer alice-token", rec.Header().Get("Authorization"))
					require.Empty(t, sc, "an allowed answer sets no cookie")
					require.NotContains(t, rec.Header().Get("Cookie"), "authbridge")
					return
				case large:
					wantStatus := http.StatusRequestHeaderFieldsTooLarge
					if shape == "nginx" {
						// auth_request takes only 401 and 403; its 401 sends the browser to
						// /oauth2/start, which answers 431 itself (TestCookieTooLargeOnTheBrowserListener).
						wantStatus = http.StatusUnauthorized
					}
					require.Equal(t, wantStatus, rec.Code)
					require.Empty(t, sc)
					require.Empty(t, rec.Header()["Authorization"])
					return
				}
				require.Empty(t, rec.Header()["Authorization"])
				var cleared []string
				for _, c := range sc {
					if strings.HasPrefix(c, "authbridge=") {
						cleared = append(cleared, c)
					}
				}
				if tt.want == clear {
					require.Equal(t, []string{clearSession}, cleared)
				} else {
					require.Empty(t, cleared, "several session cookies: deleting ours would leave the tossed one")
				}
				if shape == "traefik navigation" {
					require.Equal(t, http.StatusFound, rec.Code)
					setCookie(t, rec, loginCookie)
					return
				}
				require.Equal(t, http.StatusUnauthorized, rec.Code)
				require.Len(t, sc, len(cleared), "a 401 sets nothing else")
			})
		}
	}
}

// TestCookieTooLargeOnTheBrowserListener: where nginx sends a browser whose auth_request got a 401, and
// the other flows on the browser-facing listener, an oversized Cookie header is 431.
func TestCookieTooLargeOnTheBrowserListener(t *testing.T) {
	_, h := front(t, enginetest.Options{})
	big := "big=" + strings.Repeat("x", authz.MaxCookieHeader)
	for _, uri := range []string{"/oauth2/start?rd=%2Fdash", "/oauth2/callback?state=s&code=c", "/oauth2/sign_out"} {
		t.Run(uri, func(t *testing.T) {
			rec := serve(h, direct(uri, nav(big)))
			require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, rec.Code)
			require.Empty(t, rec.Header().Values("Set-Cookie"))
			require.Empty(t, rec.Header().Get("Location"))
			require.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
		})
	}
}

// TestSignOutVouchedOnTheWire is rule 8 on every HTTP front: the browser listener (nginx proxies
// /oauth2/ to it) and sign-out through /auth on a protected host (Traefik, Caddy).
func TestSignOutVouchedOnTheWire(t *testing.T) {
	env, h := front(t, enginetest.Options{})
	fronts := map[string]func(method, uri string, browser http.Header) *http.Request{
		"browser listener": func(method, uri string, browser http.Header) *http.Request {
			r := direct(uri, browser)
			r.Method = method
			return r
		},
		"traefik": traefik,
		"caddy":   caddy,
	}
	const (
		out = iota + 1
		confirmPage
		forbidden
		methodNotAllowed
	)
	tests := []struct {
		name   string
		method string
		hdr    http.Header // the browser's fetch metadata and sources
		want   int
	}{
		{"typed URL (Chromium: Sec-Fetch-Site none)", "GET", http.Header{"Sec-Fetch-Site": {"none"}}, out},
		{"link on the app", "GET", http.Header{"Sec-Fetch-Site": {"same-origin"}, "Referer": {appURL + "/dash"}}, out},
		{"cross-site link", "GET", http.Header{"Sec-Fetch-Site": {"cross-site"}, "Referer": {"https://evil.test/"}}, confirmPage},
		{"sibling subdomain", "GET", http.Header{"Sec-Fetch-Site": {"same-site"}, "Referer": {"https://evil.example.test/"}}, confirmPage},
		{"old browser, nothing to go by", "GET", http.Header{}, confirmPage},
		{"old browser, Referer on an evil host", "GET", http.Header{"Referer": {"https://evil.test/x"}}, confirmPage},
		{"confirmed POST", "POST", http.Header{"Sec-Fetch-Site": {"same-origin"}, "Origin": {appURL}}, out},
		{"POST, Origin null, no metadata", "POST", http.Header{"Origin": {"null"}}, forbidden},
		{"cross-site POST", "POST", http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.test"}}, forbidden},
		{"POST without Origin", "POST", http.Header{}, forbidden},
		{"HEAD", "HEAD", http.Header{"Sec-Fetch-Site": {"same-origin"}}, confirmPage},
		{"OPTIONS", "OPTIONS", http.Header{"Origin": {"https://evil.test"}, "Access-Control-Request-Method": {"POST"}}, methodNotAllowed},
	}
	for frontName, mk := range fronts {
		for _, tt := range tests {
			t.Run(frontName+"/"+tt.name, func(t *testing.T) {
				cookie, _ := login(t, env, h, "/")
				browser := nav(cookie)
				browser.Del("Sec-Fetch-Site")
				for k, vs := range tt.hdr {
					browser[k] = vs
				}
				rec := serve(h, mk(tt.method, "/oauth2/sign_out?rd=%2Fbye", browser))
				require.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
				require.Empty(t, rec.Header()["Authorization"])
				switch tt.want {
				case out:
					wantStatus := http.StatusFound
					if tt.method == "POST" {
						wantStatus = http.StatusSeeOther
					}
					require.Equal(t, wantStatus, rec.Code, rec.Body.String())
					u, err := url.Parse(rec.Header().Get("Location"))
					require.NoError(t, err)
					require.Equal(t, appURL+"/bye", u.Query().Get("post_logout_redirect_uri"))
					require.Equal(t, []string{clearSession}, rec.Header().Values("Set-Cookie"))
				case confirmPage:
					require.Equal(t, http.StatusForbidden, rec.Code, "never 2xx: a forward-auth gateway would let the request through")
					require.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"))
					require.Equal(t, "default-src 'none'; base-uri 'none'; frame-ancestors 'none'", rec.Header().Get("Content-Security-Policy"))
					require.Contains(t, rec.Body.String(), `<form method="post" action="/oauth2/sign_out?rd=%2Fbye">`)
					require.Empty(t, rec.Header().Values("Set-Cookie"))
				case forbidden:
					require.Equal(t, http.StatusForbidden, rec.Code)
					require.NotContains(t, rec.Body.String(), "<form")
					require.Empty(t, rec.Header().Values("Set-Cookie"))
				case methodNotAllowed:
					require.Equal(t, http.StatusMethodNotAllowed, rec.Code)
					require.Equal(t, "GET, POST", rec.Header().Get("Allow"))
				}
				after := serve(h, traefik("GET", "/api", xhr(cookie)))
				require.Equal(t, tt.want != out, after.Code == http.StatusOK, "the session lives unless signed out")
			})
		}
	}
}
