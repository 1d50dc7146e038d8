package devidp_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/authbridge/authbridge/pkg/devidp"
)

func TestExchangeErrors(t *testing.T) {
	tests := []struct {
		name       string
		edit       func(f *fixture, cfg *oauth2.Config, verifier *string)
		wantStatus int
		wantCode   string
	}{
		{"wrong PKCE verifier", func(_ *fixture, _ *oauth2.Config, v *string) { *v = oauth2.GenerateVerifier() },
			http.StatusForbidden, "invalid_grant"},
		{"no PKCE verifier", func(_ *fixture, _ *oauth2.Config, v *string) { *v = "" },
			http.StatusForbidden, "invalid_grant"},
		{"wrong client secret", func(_ *fixture, c *oauth2.Config, _ *string) { c.ClientSecret = "guess" },
			http.StatusUnauthorized, "invalid_client"},
		{"code of another client", func(_ *fixture, c *oauth2.Config, _ *string) { c.ClientID, c.ClientSecret = "other", "other-secret" },
			http.StatusForbidden, "invalid_grant"},
		{"other redirect_uri", func(_ *fixture, c *oauth2.Config, _ *string) { c.RedirectURL = "http://app.example/other" },
			http.StatusForbidden, "invalid_grant"},
		{"expired code", func(f *fixture, _ *oauth2.Config, _ *string) { f.clock.Advance(61 * time.Second) },
			http.StatusForbidden, "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			resp, a := f.start(t, newBrowser(t))
			c := code(t, resp, a)
			cfg, verifier := f.oauth, a.verifier
			tt.edit(f, &cfg, &verifier)
			_, err := cfg.Exchange(t.Context(), c, oauth2.VerifierOption(verifier))
			requireOAuthError(t, err, tt.wantStatus, tt.wantCode)
		})
	}
}

func TestCodeIsSingleUse(t *testing.T) {
	f := newFixture(t, nil)
	resp, a := f.start(t, newBrowser(t))
	c := code(t, resp, a)
	_, err := f.oauth.Exchange(t.Context(), c, oauth2.VerifierOption(a.verifier))
	require.NoError(t, err)
	_, err = f.oauth.Exchange(t.Context(), c, oauth2.VerifierOption(a.verifier))
	requireOAuthError(t, err, http.StatusForbidden, "invalid_grant")
	require.Equal(t, 2, f.idp.Stats().TokenCalls["authorization_code"])
}

func TestClientAuthentication(t *testing.T) {
	tests := []struct {
		name       string
		basic      bool
		form       url.Values
		wantStatus int
	}{
		{"client_secret_basic", true, nil, http.StatusOK},
		{"client_secret_post", false, url.Values{"client_id": {"app"}, "client_secret": {"app-secret"}}, http.StatusOK},
		{"post with wrong secret", false, url.Values{"client_id": {"app"}, "client_secret": {"x"}}, http.StatusUnauthorized},
		{"no authentication", false, url.Values{"client_id": {"app"}}, http.StatusUnauthorized},
		{"both methods", true, url.Values{"client_secret": {"app-secret"}}, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			tok, _ := f.login(t)
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}
			for k, v := range tt.form {
				form[k] = v
			}
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, f.issuer+"oauth/token",
				strings.NewReader(form.Encode()))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tt.basic {
				req.SetBasicAuth("app", "app-secret")
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, tt.wantStatus, resp.StatusCode)
			var out map[string]any
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
			if tt.wantStatus == http.StatusOK {
				require.NotEmpty(t, out["access_token"])
			} else {
				require.NotEmpty(t, out["error"])
				require.NotEmpty(t, out["error_description"])
			}
		})
	}
}

func TestRefreshRotation(t *testing.T) {
	f := newFixture(t, nil)
	first, _ := f.login(t)

	second, err := f.refresh(t, first.RefreshToken)
	require.NoError(t, err)
	require.NotEqual(t, first.RefreshToken, second.RefreshToken)
	require.NotEqual(t, first.AccessToken, second.AccessToken)
	raw, _ := second.Extra("id_token").(string)
	idt, err := f.verifier("app").Verify(t.Context(), raw)
	require.NoError(t, err)
	require.Equal(t, "auth0|alice", idt.Subject)
	require.Empty(t, idt.Nonce, "refreshed ID tokens carry no nonce")

	third, err := f.refresh(t, second.RefreshToken)
	require.NoError(t, err)
	require.Zero(t, f.idp.Stats().RevokedFamilies)

	_, err = f.refresh(t, first.RefreshToken) // reuse of a rotated token
	requireOAuthError(t, err, http.StatusForbidden, "invalid_grant")
	_, err = f.refresh(t, third.RefreshToken) // the whole family is gone
	requireOAuthError(t, err, http.StatusForbidden, "invalid_grant")

	st := f.idp.Stats()
	require.Equal(t, 1, st.RevokedFamilies)
	require.Equal(t, 4, st.TokenCalls["refresh_token"])

	other, _ := f.login(t) // other families are untouched
	_, err = f.refresh(t, other.RefreshToken)
	require.NoError(t, err)
}

func TestRefreshReuseWindow(t *testing.T) {
	tests := []struct {
		name        string
		after       time.Duration
		wantRevoked bool
	}{
		{"at once", 0, false},
		{"inside the window", 10 * time.Second, false},
		{"after the window", 11 * time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(o *devidp.Options) { o.RefreshReuseWindow = 10 * time.Second })
			first, _ := f.login(t)
			second, err := f.refresh(t, first.RefreshToken)
			require.NoError(t, err)
			f.clock.Advance(tt.after)

			again, err := f.refresh(t, first.RefreshToken)
			_, err2 := f.refresh(t, second.RefreshToken)
			if tt.wantRevoked {
				requireOAuthError(t, err, http.StatusForbidden, "invalid_grant")
				requireOAuthError(t, err2, http.StatusForbidden, "invalid_grant")
				require.Equal(t, 1, f.idp.Stats().RevokedFamilies)
				return
			}
			require.NoError(t, err)
			require.NoError(t, err2, "a concurrent replica's token stays valid")
			_, err = f.refresh(t, again.RefreshToken)
			require.NoError(t, err)
			require.Zero(t, f.idp.Stats().RevokedFamilies)
		})
	}
}

func TestRefreshTokenOnlyWithOfflineAccess(t *testing.T) {
	f := newFixture(t, nil)
	f.oauth.Scopes = []string{"openid", "email"}
	tok, _ := f.login(t)
	require.Empty(t, tok.RefreshToken)
	require.Equal(t, "openid email", tok.Extra("scope"))
}

func TestRevokeUser(t *testing.T) {
	f := newFixture(t, nil)
	alice, _ := f.login(t)
	f.idp.RevokeUser("auth0|bob-id")
	_, err := f.refresh(t, alice.RefreshToken)
	require.NoError(t, err, "revoking another user leaves alice alone")

	alice, _ = f.login(t)
	f.idp.RevokeUser("auth0|alice")
	_, err = f.refresh(t, alice.RefreshToken)
	requireOAuthError(t, err, http.StatusForbidden, "invalid_grant")
}

func TestRevokeEndpoint(t *testing.T) {
	f := newFixture(t, nil)
	tok, _ := f.login(t)
	resp, err := http.PostForm(f.issuer+"oauth/revoke", url.Values{
		"client_id": {"app"}, "client_secret": {"app-secret"}, "token": {tok.RefreshToken}})
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)
	_, err = f.refresh(t, tok.RefreshToken)
	requireOAuthError(t, err, http.StatusForbidden, "invalid_grant")
}

func TestTokenDown(t *testing.T) {
	f := newFixture(t, nil)
	tok, _ := f.login(t)
	resp, a := f.start(t, newBrowser(t))
	c := code(t, resp, a)

	f.idp.SetTokenDown(true)
	_, err := f.oauth.Exchange(t.Context(), c, oauth2.VerifierOption(a.verifier))
	requireOAuthError(t, err, http.StatusServiceUnavailable, "temporarily_unavailable")
	_, err = f.refresh(t, tok.RefreshToken)
	requireOAuthError(t, err, http.StatusServiceUnavailable, "temporarily_unavailable")

	f.idp.SetTokenDown(false)
	_, err = f.refresh(t, tok.RefreshToken)
	require.NoError(t, err, "an outage consumes no refresh token")
}

func TestTokenDelay(t *testing.T) {
	f := newFixture(t, nil)
	tok, _ := f.login(t)

	f.idp.SetTokenDelay(time.Minute)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := f.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	require.True(t, errors.Is(err, context.DeadlineExceeded), "got %v", err)

	f.idp.SetTokenDelay(0)
	_, err = f.refresh(t, tok.RefreshToken)
	require.NoError(t, err, "the abandoned request used nothing up")
}

// TestEmailVerified: a user can be issued email_verified false (an Auth0 database sign-up that never
// clicked its link), and SetEmailVerified changes what later tokens, refreshed ones included, say.
func TestEmailVerified(t *testing.T) {
	f := newFixture(t, func(o *devidp.Options) { o.Users[0].EmailUnverified = true })
	verified := func(tok *oauth2.Token) any {
		t.Helper()
		raw, _ := tok.Extra("id_token").(string)
		idt, err := f.verifier("app").Verify(t.Context(), raw)
		require.NoError(t, err)
		var c map[string]any
		require.NoError(t, idt.Claims(&c))
		require.Equal(t, "alice@example.com", c["email"])
		return c["email_verified"]
	}
	tok, _ := f.login(t)
	require.Equal(t, false, verified(tok), "a JSON false, as Auth0 sends it")

	f.idp.SetEmailVerified("alice", true)
	tok, err := f.refresh(t, tok.RefreshToken)
	require.NoError(t, err)
	require.Equal(t, true, verified(tok))

	f.idp.SetEmailVerified("alice", false)
	tok, err = f.refresh(t, tok.RefreshToken)
	require.NoError(t, err)
	require.Equal(t, false, verified(tok))
}
