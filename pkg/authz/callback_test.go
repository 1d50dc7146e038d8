package authz_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/pkg/authz"
)

// pendingCallback starts a login on env and returns the browser's pending-login cookie and the values of
// the provider's answer (state, code, and iss when the provider sends one).
func pendingCallback(t *testing.T, env *enginetest.Env) (cookie string, q url.Values) {
	t.Helper()
	d, err := env.Engine.Decide(ctx, enginetest.Navigate("/dash", ""))
	require.NoError(t, err)
	cb := env.FollowToProvider(t, d.Location)
	u, err := url.Parse(cb)
	require.NoError(t, err)
	return enginetest.CookieHeader(d.Cookies), u.Query()
}

func codeExchanges(env *enginetest.Env) int { return env.IDP.Stats().TokenCalls["authorization_code"] }

// TestCallbackParameters is rule 5 of issue 11: a callback whose parameters are repeated, malformed or
// from another issuer (RFC 9207) is refused with 400 before any code exchange, and a provider that
// promises iss must send it.
func TestCallbackParameters(t *testing.T) {
	plain := enginetest.New(t, enginetest.Options{})
	rfc9207 := enginetest.New(t, enginetest.Options{IssParameter: true})
	require.False(t, plain.Provider.IssParameterRequired())
	require.True(t, rfc9207.Provider.IssParameterRequired(), "devidp's discovery says authorization_response_iss_parameter_supported")
	// raw builds the callback query from the provider's real answer.
	type raw func(state, code, iss string) string
	tests := []struct {
		name       string
		env        *enginetest.Env
		query      raw
		wantStatus int
	}{
		{"as sent", plain, func(s, c, _ string) string { return "code=" + c + "&state=" + s }, http.StatusFound},
		{"code=a&code=b", plain, func(s, c, _ string) string { return "code=" + c + "&code=other&state=" + s }, http.StatusBadRequest},
		{"same code twice", plain, func(s, c, _ string) string { return "code=" + c + "&code=" + c + "&state=" + s }, http.StatusBadRequest},
		{"state=x&state=x", plain, func(s, c, _ string) string { return "code=" + c + "&state=" + s + "&state=" + s }, http.StatusBadRequest},
		{"two states", plain, func(s, c, _ string) string { return "state=" + s + "&code=" + c + "&state=other" }, http.StatusBadRequest},
		{"code repeated under an encoded key", plain, func(s, c, _ string) string { return "code=" + c + "&%63ode=other&state=" + s }, http.StatusBadRequest},
		{"semicolon separator", plain, func(s, c, _ string) string { return "code=" + c + ";code=other&state=" + s }, http.StatusBadRequest},
		{"malformed escape", plain, func(s, c, _ string) string { return "code=" + c + "&state=" + s + "&x=%zz" }, http.StatusBadRequest},
		{"empty code", plain, func(s, _, _ string) string { return "code=&state=" + s }, http.StatusBadRequest},
		{"state without code", plain, func(s, _, _ string) string { return "state=" + s }, http.StatusBadRequest},
		{"code without state", plain, func(_, c, _ string) string { return "code=" + c }, http.StatusBadRequest},
		{"empty state", plain, func(_, c, _ string) string { return "code=" + c + "&state=" }, http.StatusBadRequest},
		{"error and code", plain, func(s, c, _ string) string { return "code=" + c + "&state=" + s + "&error=access_denied" }, http.StatusBadRequest},
		{"error repeated", plain, func(s, _, _ string) string { return "error=access_denied&error=login_required&state=" + s }, http.StatusBadRequest},
		{"iss equal to the issuer", plain, func(s, c, _ string) string {
			return "code=" + c + "&state=" + s + "&iss=" + url.QueryEscape(plain.IDPURL)
		}, http.StatusFound},
		{"iss of another issuer (mix-up)", plain, func(s, c, _ string) string {
			return "code=" + c + "&state=" + s + "&iss=" + url.QueryEscape("https://evil.example/")
		}, http.StatusBadRequest},
		{"iss without the trailing slash", plain, func(s, c, _ string) string {
			return "code=" + c + "&state=" + s + "&iss=" + url.QueryEscape(strings.TrimSuffix(plain.IDPURL, "/"))
		}, http.StatusBadRequest},
		{"iss empty", plain, func(s, c, _ string) string { return "code=" + c + "&state=" + s + "&iss=" }, http.StatusBadRequest},
		{"iss repeated, both right", plain, func(s, c, _ string) string {
			i := url.QueryEscape(plain.IDPURL)
			return "code=" + c + "&state=" + s + "&iss=" + i + "&iss=" + i
		}, http.StatusBadRequest},
		{"RFC 9207: as sent", rfc9207, func(s, c, i string) string {
			return "code=" + c + "&state=" + s + "&iss=" + url.QueryEscape(i)
		}, http.StatusFound},
		{"RFC 9207: iss missing", rfc9207, func(s, c, _ string) string { return "code=" + c + "&state=" + s }, http.StatusBadRequest},
		{"RFC 9207: iss wrong", rfc9207, func(s, c, _ string) string {
			return "code=" + c + "&state=" + s + "&iss=" + url.QueryEscape("https://evil.example/")
		}, http.StatusBadRequest},
		{"RFC 9207: iss with another spelling", rfc9207, func(s, c, i string) string {
			return "code=" + c + "&state=" + s + "&iss=" + url.QueryEscape(strings.Replace(i, "http://", "HTTP://", 1))
		}, http.StatusBadRequest},
		{"RFC 9207: error without iss", rfc9207, func(s, _, _ string) string { return "error=access_denied&state=" + s }, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cookie, q := pendingCallback(t, tt.env)
			if tt.env == rfc9207 {
				require.Equal(t, rfc9207.IDPURL, q.Get("iss"), "the provider sends iss")
			}
			before := codeExchanges(tt.env)
			d, err := tt.env.Engine.Decide(ctx, enginetest.Navigate(authz.PathCallback+"?"+tt.query(q.Get("state"), q.Get("code"), q.Get("iss")), cookie))
			require.NoError(t, err)
			require.Equal(t, tt.wantStatus, d.Status, d.Reason)
			if tt.wantStatus == http.StatusFound {
				require.Equal(t, "https://"+enginetest.AppHost+"/dash", d.Location)
				return
			}
			require.Equal(t, before, codeExchanges(tt.env), "no code exchange for a refused callback")
			require.Empty(t, d.Cookies, "nothing set or cleared: the login may still finish with the right answer")
			require.Equal(t, "text/plain; charset=utf-8", d.Header.Get("Content-Type"))
			require.NotContains(t, d.Body, q.Get("code"))
		})
	}
}

// TestProviderErrorConsumesLogin: an error= callback ends the login it names — its cookie cleared, its
// state marked used so that the same login cannot finish later — and answers 403 without echoing
// anything the provider (or whoever forged the answer) wrote.
func TestProviderErrorConsumesLogin(t *testing.T) {
	var logs bytes.Buffer
	env := enginetest.New(t, enginetest.Options{Engine: authz.Options{
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}})
	tests := []struct {
		name        string
		query       func(state string) string
		wantBody    string
		wantConsume bool
	}{
		{"access_denied for this login", func(s string) string { return "error=access_denied&state=" + s }, "(access_denied)", true},
		{"error_description with HTML", func(s string) string {
			return "error=access_denied&error_description=" + url.QueryEscape(`<script>alert("xss")</script>`) + "&state=" + s
		}, "(access_denied)", true},
		{"unknown error code with markup", func(s string) string {
			return "error=" + url.QueryEscape(`<img src=x onerror=alert("xss")>`) + "&state=" + s
		}, "(other)", true},
		{"error_uri", func(s string) string {
			return "error=server_error&error_uri=" + url.QueryEscape("javascript:alert('xss')") + "&state=" + s
		}, "(server_error)", true},
		{"no state", func(string) string { return "error=access_denied" }, "(access_denied)", false},
		{"another state", func(string) string { return "error=access_denied&state=someone-elses" }, "(access_denied)", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cookie, q := pendingCallback(t, env)
			name, _, _ := strings.Cut(cookie, "=")
			d, err := env.Engine.Decide(ctx, enginetest.Navigate(authz.PathCallback+"?"+tt.query(q.Get("state")), cookie))
			require.NoError(t, err)
			require.Equal(t, authz.Deny, d.Outcome)
			require.Equal(t, http.StatusForbidden, d.Status)
			require.Equal(t, "login was refused by the identity provider "+tt.wantBody+"\n", d.Body)
			require.Equal(t, "text/plain; charset=utf-8", d.Header.Get("Content-Type"))
			require.Equal(t, "nosniff", d.Header.Get("X-Content-Type-Options"))
			require.NotContains(t, logs.String(), "xss", "provider text never reaches the log")

			before := codeExchanges(env)
			replay, err := env.Engine.Decide(ctx, enginetest.Navigate(authz.PathCallback+"?code="+q.Get("code")+"&state="+q.Get("state"), cookie))
			require.NoError(t, err)
			if !tt.wantConsume {
				require.Empty(t, d.Cookies, "another login's cookie is left alone")
				require.Equal(t, authz.Redirect, replay.Outcome, "the login it did not name still finishes")
				return
			}
			require.Len(t, d.Cookies, 1)
			require.Equal(t, name, d.Cookies[0].Name)
			require.Negative(t, d.Cookies[0].MaxAge, "the pending login's cookie is cleared")
			// The browser kept the cookie anyway (or someone copied it): the state is used up.
			requireBadLogin(t, replay)
			require.Equal(t, before+1, codeExchanges(env))
		})
	}
	t.Run("expired login: cookie cleared, nothing stored", func(t *testing.T) {
		cookie, q := pendingCallback(t, env)
		env.Clock.Advance(11 * time.Minute)
		d, err := env.Engine.Decide(ctx, enginetest.Navigate(authz.PathCallback+"?error=access_denied&state="+q.Get("state"), cookie))
		require.NoError(t, err)
		require.Equal(t, http.StatusForbidden, d.Status)
		require.Len(t, d.Cookies, 1)
		first, err := env.Sessions.Once(ctx, "login", q.Get("state"), time.Minute)
		require.NoError(t, err)
		require.True(t, first, "no marker for a login that could not finish anyway")
	})
}

// TestOAuth2DecisionHeaders: every decision about an /oauth2/ path carries no-store, no-referrer and
// nosniff in Decision.Header, which both fronts render.
func TestOAuth2DecisionHeaders(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{})
	cookie, _ := env.Login(t, "/")
	tests := []struct {
		name string
		r    *authz.Request
	}{
		{"start", enginetest.Navigate("/oauth2/start?rd=/x", "")},
		{"start refused rd", enginetest.Navigate("/oauth2/start?rd=https://evil.test/", "")},
		{"start rd too long", enginetest.Navigate("/oauth2/start?rd=/"+strings.Repeat("a", authz.MaxReturnURL), "")},
		{"callback refused", enginetest.Navigate("/oauth2/callback?code=a&code=b&state=x", "")},
		{"callback without state", enginetest.Navigate("/oauth2/callback?code=a", "")},
		{"provider error", enginetest.Navigate("/oauth2/callback?error=access_denied&state=x", "")},
		{"sign-out", enginetest.Navigate("/oauth2/sign_out", cookie)},
		{"unknown oauth2 path, navigation", enginetest.Navigate("/oauth2/userinfo", "")},
		{"unknown oauth2 path, fetch", &authz.Request{Method: "GET", Scheme: "https", Host: enginetest.AppHost, URI: "/oauth2/userinfo", Accept: "application/json"}},
		{"nginx mode", &authz.Request{Method: "GET", Scheme: "https", Host: enginetest.AppHost, URI: "/oauth2/start", NoRedirect: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := env.Engine.Decide(ctx, tt.r)
			require.NoError(t, err)
			require.NotEqual(t, authz.Allow, d.Outcome)
			require.Equal(t, "no-store", d.Header.Get("Cache-Control"))
			require.Equal(t, "no-referrer", d.Header.Get("Referrer-Policy"))
			require.Equal(t, "nosniff", d.Header.Get("X-Content-Type-Options"))
		})
	}
	t.Run("other paths keep their own headers", func(t *testing.T) {
		d, err := env.Engine.Decide(ctx, enginetest.Navigate("/dash", ""))
		require.NoError(t, err)
		require.Empty(t, d.Header.Get("Referrer-Policy"))
	})
}
