package forwardauth_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/pkg/forwardauth"
	"github.com/authbridge/authbridge/pkg/session/sessiontest"
)

// TestReturnURLsThroughFronts is rule 4 where the HTTP fronts differ: the request's origin comes from
// X-Forwarded-Proto/-Host (Traefik, and nginx's proxied /oauth2/start), the Host header (Caddy) or the
// connection itself (an untrusted peer), and every Location is absolute on that origin (issue 14: Traefik
// resolves a relative Location against authbridge's own address).
func TestReturnURLsThroughFronts(t *testing.T) {
	env, h := front(t, enginetest.Options{})
	start := func(r *http.Request, rd string) *http.Request {
		q := "/oauth2/start?rd=" + url.QueryEscape(rd)
		if r.URL.Path == "/auth" {
			r.Header.Set("X-Forwarded-Uri", q)
		} else {
			r.URL, r.RequestURI = &url.URL{Path: "/oauth2/start", RawQuery: q[len("/oauth2/start?"):]}, q
		}
		return r
	}
	forwardedProto := func(r *http.Request, proto, host string) *http.Request {
		r.Header.Set("X-Forwarded-Proto", proto)
		r.Header.Set("X-Forwarded-Host", host)
		return r
	}
	untrusted := func() *http.Request {
		r := direct("/oauth2/start", nav(""))
		r.RemoteAddr, r.Host = stranger, "authbridge:4180"
		return r
	}
	tests := []struct {
		name string
		req  *http.Request
		rd   string
		want string
	}{
		{"traefik: relative", traefik("GET", "", nav("")), "/ok?a=1", appURL + "/ok?a=1"},
		{"traefik: refused rd lands on the absolute origin root", traefik("GET", "", nav("")), "https://evil.test/", appURL + "/"},
		{"traefik: downgrade", traefik("GET", "", nav("")), "http://" + enginetest.AppHost + "/x", appURL + "/"},
		{"traefik: http request may return to http", forwardedProto(traefik("GET", "", nav("")), "http", enginetest.AppHost),
			"http://" + enginetest.AppHost + "/x", "http://" + enginetest.AppHost + "/x"},
		{"traefik: relative on an unlisted host", forwardedProto(traefik("GET", "", nav("")), "https", "auth.example.test"), "/ok", "https://auth.example.test/ok"},
		{"traefik: review http://127.0.0.1:9999/steal", forwardedProto(traefik("GET", "", nav("")), "http", "127.0.0.1"),
			"http://127.0.0.1:9999/steal", "http://127.0.0.1/"},
		{"caddy: unlisted port", caddy("GET", "", nav("")), appURL + ":8443/", appURL + "/"},
		{"caddy: userinfo", caddy("GET", "", nav("")), "http://app.example.test@evil.com", appURL + "/"},
		{"caddy: CVE-2021-21291 tab", caddy("GET", "", nav("")), "/\t/evil.com", appURL + "/"},
		{"nginx-proxied start: protocol relative", direct("/oauth2/start", nav("")), "//evil.com", appURL + "/"},
		{"nginx-proxied start: homoglyph", direct("/oauth2/start", nav("")), "https://аpp.example.test/", appURL + "/"},
		{"nginx-proxied start: trailing dot", direct("/oauth2/start", nav("")), "https://app.example.test./", appURL + "/"},
		{"untrusted peer: relative stays on the connection's host", untrusted(), "/ok", "http://authbridge:4180/ok"},
		{"untrusted peer: a listed host", untrusted(), appURL + "/x", appURL + "/x"},
		{"untrusted peer: an unlisted host", untrusted(), "https://auth.example.test/x", "http://authbridge:4180/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(h, start(tt.req, tt.rd))
			require.Equal(t, http.StatusFound, rec.Code, rec.Body.String())
			require.True(t, strings.HasPrefix(rec.Header().Get("Location"), env.IDPURL+"authorize?"))
			cb := env.FollowToProvider(t, rec.Header().Get("Location"))
			rec = serve(h, direct(cb, nav(cookiePair(t, rec, loginCookie))))
			require.Equal(t, http.StatusFound, rec.Code, rec.Body.String())
			require.Equal(t, tt.want, rec.Header().Get("Location"))
		})
	}
	t.Run("traefik: sign-out returns to the absolute origin", func(t *testing.T) {
		r := traefik("GET", "/oauth2/sign_out?rd="+url.QueryEscape("https://evil.test/"), nav(""))
		rec := serve(h, r)
		require.Equal(t, http.StatusFound, rec.Code)
		u, err := url.Parse(rec.Header().Get("Location"))
		require.NoError(t, err)
		require.Equal(t, appURL+"/", u.Query().Get("post_logout_redirect_uri"))
	})
	t.Run("traefik: a host that is no origin is 400", func(t *testing.T) {
		r := forwardedProto(traefik("GET", "/oauth2/start?rd=/x", nav("")), "https", "evil.com/@app.example.test")
		rec := serve(h, r)
		require.Equal(t, http.StatusBadRequest, rec.Code)
		require.Empty(t, rec.Header().Get("Location"))
		require.Empty(t, rec.Header().Values("Set-Cookie"))
	})
}

// TestOAuth2AnswersArePrivate is rule 5's headers on the HTTP fronts: every answer from /oauth2/*, on
// either listener and whoever makes it (the engine, a 404, a 405, a 503), and every forward-auth answer
// about an /oauth2/ path carries no-store, no-referrer and nosniff.
func TestOAuth2AnswersArePrivate(t *testing.T) {
	env, h := front(t, enginetest.Options{})
	cookie, _ := login(t, env, h, "/")
	_, down := front(t, enginetest.Options{Store: sessiontest.Down{}})
	stale := "authbridge=" + strings.Repeat("A", 86)
	browserOnly := forwardauth.NewBrowser(env.Engine, forwardauth.Options{})
	tests := []struct {
		name       string
		h          http.Handler
		req        *http.Request
		wantStatus int
	}{
		{"start", h, direct("/oauth2/start?rd=%2Fx", nav("")), http.StatusFound},
		{"callback code=a&code=b", h, direct("/oauth2/callback?code=a&code=b&state=x", nav("")), http.StatusBadRequest},
		{"callback state=x&state=x", h, direct("/oauth2/callback?code=a&state=x&state=x", nav("")), http.StatusBadRequest},
		{"callback error with HTML", h, direct("/oauth2/callback?error=access_denied&error_description=%3Cb%3Ehi%3C%2Fb%3E&state=x", nav("")), http.StatusForbidden},
		{"sign-out", h, direct("/oauth2/sign_out", nav(cookie)), http.StatusFound},
		{"unknown /oauth2/ path on the browser listener", h, direct("/oauth2/nope", nav("")), http.StatusNotFound},
		{"/oauth2/auth on the browser listener", browserOnly, httptest.NewRequest("GET", "http://authbridge:4180/oauth2/auth?x", nil), http.StatusNotFound},
		{"back-channel GET", h, direct("/oauth2/backchannel_logout", nav("")), http.StatusMethodNotAllowed},
		{"traefik /auth for /oauth2/start", h, traefik("GET", "/oauth2/start?rd=%2Fx", nav("")), http.StatusFound},
		{"traefik /auth for a repeated-code callback", h, traefik("GET", "/oauth2/callback?code=a&code=b&state=x", nav("")), http.StatusBadRequest},
		{"caddy /auth for /oauth2/sign_out", h, caddy("GET", "/oauth2/sign_out", nav("")), http.StatusFound},
		{"caddy /auth for an unknown /oauth2/ path, fetch", h, caddy("GET", "/oauth2/userinfo", xhr("")), http.StatusUnauthorized},
		{"nginx /oauth2/auth", h, nginx("GET", "/dash", nav("")), http.StatusUnauthorized},
		{"store down: sign-out", down, direct("/oauth2/sign_out", nav(stale)), http.StatusServiceUnavailable},
		{"store down: traefik /auth for sign-out", down, traefik("GET", "/oauth2/sign_out", nav(stale)), http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(tt.h, tt.req)
			require.Equal(t, tt.wantStatus, rec.Code, rec.Body.String())
			require.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
			require.Equal(t, "no-referrer", rec.Header().Get("Referrer-Policy"))
			require.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
			require.NotContains(t, rec.Body.String(), "<b>")
		})
	}
	t.Run("other paths are the app's", func(t *testing.T) {
		rec := serve(h, traefik("GET", "/dash", nav("")))
		require.Equal(t, http.StatusFound, rec.Code)
		require.Empty(t, rec.Header().Get("Referrer-Policy"))
	})
}
