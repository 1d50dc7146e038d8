package devidp_test

import (
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/authbridge/authbridge/pkg/devidp"
)

// loggedInBrowser logs alice in through the form and returns the browser and her ID token.
func loggedInBrowser(t *testing.T, f *fixture) (*http.Client, string) {
	t.Helper()
	b := newBrowser(t)
	form, a := f.start(t, b)
	tok, err := f.oauth.Exchange(t.Context(), code(t, submit(t, b, form, "alice", "alice-pw"), a),
		oauth2.VerifierOption(a.verifier))
	require.NoError(t, err)
	idToken, _ := tok.Extra("id_token").(string)
	return b, idToken
}

// requireSSO checks whether the browser still logs in silently.
func requireSSO(t *testing.T, f *fixture, b *http.Client, want bool) {
	t.Helper()
	resp, _ := f.start(t, b)
	if want {
		require.Equal(t, http.StatusFound, resp.StatusCode)
	} else {
		require.Equal(t, http.StatusOK, resp.StatusCode, "the login form again")
	}
}

func TestV2Logout(t *testing.T) {
	tests := []struct {
		name         string
		query        url.Values
		wantStatus   int
		wantLocation string
		wantSSO      bool
	}{
		{"allowed returnTo", url.Values{"client_id": {"app"}, "returnTo": {logoutURL}}, http.StatusFound, logoutURL, false},
		{"tenant-level returnTo", url.Values{"returnTo": {logoutURL}}, http.StatusFound, logoutURL, false},
		{"refused returnTo", url.Values{"client_id": {"app"}, "returnTo": {"http://evil.example/"}}, http.StatusBadRequest, "", true},
		{"returnTo of another client", url.Values{"client_id": {"other"}, "returnTo": {logoutURL}}, http.StatusBadRequest, "", true},
		{"no returnTo", url.Values{"client_id": {"app"}}, http.StatusOK, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(o *devidp.Options) { o.AutoLogin = "" })
			b, _ := loggedInBrowser(t, f)
			resp := get(t, b, f.issuer+"v2/logout?"+tt.query.Encode())
			require.Equal(t, tt.wantStatus, resp.StatusCode)
			require.Equal(t, tt.wantLocation, resp.Header.Get("Location"))
			requireSSO(t, f, b, tt.wantSSO)
		})
	}
}

func TestOIDCLogout(t *testing.T) {
	tests := []struct {
		name         string
		query        func(idToken string) url.Values
		wantStatus   int
		wantLocation string
		wantSSO      bool
	}{
		{"hint, redirect and state", func(h string) url.Values {
			return url.Values{"id_token_hint": {h}, "post_logout_redirect_uri": {logoutURL}, "state": {"bye1"}}
		}, http.StatusFound, logoutURL + "?state=bye1", false},
		{"client_id instead of hint", func(string) url.Values {
			return url.Values{"client_id": {"app"}, "post_logout_redirect_uri": {logoutURL}}
		}, http.StatusFound, logoutURL, false},
		{"no redirect", func(h string) url.Values { return url.Values{"id_token_hint": {h}} }, http.StatusOK, "", false},
		{"tampered hint", func(h string) url.Values {
			return url.Values{"id_token_hint": {h[:len(h)-4] + "AAAA"}, "post_logout_redirect_uri": {logoutURL}}
		}, http.StatusBadRequest, "", true},
		{"unregistered redirect", func(h string) url.Values {
			return url.Values{"id_token_hint": {h}, "post_logout_redirect_uri": {"http://evil.example/"}}
		}, http.StatusBadRequest, "", true},
		{"redirect without hint or client", func(string) url.Values {
			return url.Values{"post_logout_redirect_uri": {logoutURL}}
		}, http.StatusBadRequest, "", true},
		{"hint for another client", func(h string) url.Values {
			return url.Values{"id_token_hint": {h}, "client_id": {"other"}}
		}, http.StatusBadRequest, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(o *devidp.Options) { o.AutoLogin = "" })
			b, idToken := loggedInBrowser(t, f)
			f.clock.Advance(2 * time.Hour) // an expired hint is still a valid hint
			resp := get(t, b, f.issuer+"oidc/logout?"+tt.query(idToken).Encode())
			require.Equal(t, tt.wantStatus, resp.StatusCode)
			require.Equal(t, tt.wantLocation, resp.Header.Get("Location"))
			requireSSO(t, f, b, tt.wantSSO)
		})
	}
}

func TestOIDCLogoutEndsHintedSession(t *testing.T) {
	f := newFixture(t, func(o *devidp.Options) { o.AutoLogin = "" })
	b, idToken := loggedInBrowser(t, f)
	resp := get(t, newBrowser(t), f.issuer+"oidc/logout?"+url.Values{"id_token_hint": {idToken}}.Encode())
	require.Equal(t, http.StatusOK, resp.StatusCode)
	requireSSO(t, f, b, false) // the sid in the hint named b's session
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name string
		edit func(*devidp.Options)
	}{
		{"issuer without slash", func(o *devidp.Options) { o.Issuer = "http://127.0.0.1:1" }},
		{"relative issuer", func(o *devidp.Options) { o.Issuer = "/idp/" }},
		{"no clients", func(o *devidp.Options) { o.Clients = nil }},
		{"client without redirect", func(o *devidp.Options) { o.Clients[0].RedirectURIs = nil }},
		{"relative logout URL", func(o *devidp.Options) { o.Clients[0].LogoutURLs = []string{"/bye"} }},
		{"duplicate client", func(o *devidp.Options) { o.Clients[1].ID = "app" }},
		{"no users", func(o *devidp.Options) { o.Users = nil }},
		{"duplicate user", func(o *devidp.Options) { o.Users[1].Username = "alice" }},
		{"unknown auto login", func(o *devidp.Options) { o.AutoLogin = "carol" }},
		{"negative TTL", func(o *devidp.Options) { o.AccessTokenTTL = -time.Second }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testOptions("http://127.0.0.1:1/", &clock{})
			tt.edit(&o)
			_, err := devidp.New(o)
			require.True(t, errors.Is(err, devidp.ErrInvalidOptions), "got %v", err)
		})
	}
}
