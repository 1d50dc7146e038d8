package devidp_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/authbridge/authbridge/pkg/devidp"
)

func TestDiscovery(t *testing.T) {
	f := newFixture(t, nil)
	require.True(t, strings.HasSuffix(f.issuer, "/"))
	resp := get(t, http.DefaultClient, f.issuer+".well-known/openid-configuration")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var doc map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&doc))
	tests := []struct {
		key  string
		want any
	}{
		{"issuer", f.issuer},
		{"authorization_endpoint", f.issuer + "authorize"},
		{"token_endpoint", f.issuer + "oauth/token"},
		{"userinfo_endpoint", f.issuer + "userinfo"},
		{"jwks_uri", f.issuer + ".well-known/jwks.json"},
		{"end_session_endpoint", f.issuer + "oidc/logout"},
		{"response_types_supported", []any{"code"}},
		{"code_challenge_methods_supported", []any{"S256"}},
		{"id_token_signing_alg_values_supported", []any{"RS256"}},
		{"grant_types_supported", []any{"authorization_code", "refresh_token"}},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			require.Equal(t, tt.want, doc[tt.key])
		})
	}
	require.Contains(t, doc["scopes_supported"], "offline_access")
	require.Contains(t, doc["claims_supported"], "groups")
	require.Equal(t, f.issuer+"authorize", f.provider.Endpoint().AuthURL)
}

func TestCodeFlow(t *testing.T) {
	tests := []struct {
		name      string
		autoLogin string
	}{
		{"auto login", "alice"},
		{"login form", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(o *devidp.Options) { o.AutoLogin = tt.autoLogin })
			b := newBrowser(t)
			resp, a := f.start(t, b)
			if tt.autoLogin == "" {
				require.Contains(t, body(t, resp), `<form method="post"`)
				resp = submit(t, b, resp, "alice", "alice-pw")
			}
			tok, err := f.oauth.Exchange(t.Context(), code(t, resp, a), oauth2.VerifierOption(a.verifier))
			require.NoError(t, err)
			require.Equal(t, "Bearer", tok.TokenType)
			require.NotEmpty(t, tok.RefreshToken)
			require.EqualValues(t, 3600, tok.ExpiresIn)
			require.Equal(t, "openid profile email offline_access", tok.Extra("scope"))

			raw, _ := tok.Extra("id_token").(string)
			idt, err := f.verifier("app").Verify(t.Context(), raw)
			require.NoError(t, err)
			var id struct {
				Email, Name, Sid, Azp string
				EmailVerified         bool     `json:"email_verified"`
				Groups                []string `json:"groups"`
				AuthTime              int64    `json:"auth_time"`
			}
			require.NoError(t, idt.Claims(&id))
			require.Equal(t, f.issuer, idt.Issuer)
			require.Equal(t, "auth0|alice", idt.Subject)
			require.Equal(t, a.nonce, idt.Nonce)
			require.NotEmpty(t, id.Sid)
			require.Equal(t, "alice@example.com", id.Email)
			require.True(t, id.EmailVerified)
			require.Equal(t, "Alice", id.Name)
			require.Equal(t, "app", id.Azp)
			require.Equal(t, []string{"admins", "dev"}, id.Groups)
			require.Equal(t, f.clock.Now().Unix(), id.AuthTime)

			at, err := f.verifier(audience).Verify(t.Context(), tok.AccessToken)
			require.NoError(t, err, "access token is a JWT for the audience")
			require.Equal(t, []string{audience, f.issuer + "userinfo"}, at.Audience)
			var ac struct {
				Scope, Jti, Azp string
				Groups          []string `json:"groups"`
			}
			require.NoError(t, at.Claims(&ac))
			require.Equal(t, "openid profile email offline_access", ac.Scope)
			require.NotEmpty(t, ac.Jti)
			require.Equal(t, "app", ac.Azp)
			require.Equal(t, []string{"admins", "dev"}, ac.Groups)

			ui, err := f.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(tok))
			require.NoError(t, err)
			require.Equal(t, "auth0|alice", ui.Subject)
			require.Equal(t, "alice@example.com", ui.Email)

			st := f.idp.Stats()
			require.Equal(t, 1, st.Logins)
			require.Equal(t, 1, st.TokenCalls["authorization_code"])
		})
	}
}

func TestLoginForm(t *testing.T) {
	tests := []struct {
		name          string
		showPasswords bool
		user, pass    string
		wantStatus    int
		wantBody      []string
		notBody       []string
	}{
		{"wrong password", false, "alice", "nope", http.StatusOK,
			[]string{"Wrong username or password.", `name="form_token"`, `value="alice"`}, []string{"alice-pw"}},
		{"unknown user", false, "carol", "x", http.StatusOK, []string{"Wrong username or password."}, nil},
		{"passwords listed for the demo", true, "alice", "nope", http.StatusOK, []string{"alice-pw", "bob-pw"}, nil},
		{"right password", false, "bob", "bob-pw", http.StatusFound, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(o *devidp.Options) { o.AutoLogin, o.ShowPasswords = "", tt.showPasswords })
			b := newBrowser(t)
			form, a := f.start(t, b)
			resp := submit(t, b, form, tt.user, tt.pass)
			require.Equal(t, tt.wantStatus, resp.StatusCode)
			for _, s := range tt.wantBody {
				require.Contains(t, body(t, resp), s)
			}
			for _, s := range tt.notBody {
				require.NotContains(t, body(t, resp), s)
			}
			if resp.StatusCode == http.StatusOK { // the re-shown form still works
				resp = submit(t, b, resp, "alice", "alice-pw")
			}
			code(t, resp, a)
			require.Equal(t, 1, f.idp.Stats().Logins)
		})
	}
}

func TestLoginFormNeedsSameBrowser(t *testing.T) {
	f := newFixture(t, func(o *devidp.Options) { o.AutoLogin = "" })
	form, _ := f.start(t, newBrowser(t))
	resp := submit(t, newBrowser(t), form, "alice", "alice-pw") // no CSRF cookie
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Empty(t, resp.Header.Get("Location"))
}

func TestSingleSignOn(t *testing.T) {
	f := newFixture(t, func(o *devidp.Options) { o.AutoLogin = "" })
	b := newBrowser(t)
	form, a := f.start(t, b)
	code(t, submit(t, b, form, "alice", "alice-pw"), a)

	resp, a := f.start(t, b)
	code(t, resp, a) // silent: no form
	require.Equal(t, 1, f.idp.Stats().Logins)

	resp, _ = f.start(t, b, oauth2.SetAuthURLParam("prompt", "login"))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body(t, resp), `name="password"`)

	resp, a = f.start(t, newBrowser(t), oauth2.SetAuthURLParam("prompt", "none"))
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, "login_required", loc.Query().Get("error"))
	require.Equal(t, a.state, loc.Query().Get("state"))
}

func TestAuthorizeErrors(t *testing.T) {
	f := newFixture(t, nil)
	good := url.Values{
		"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {redirectURI}, "scope": {"openid"},
		"state": {"s1"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())},
		"code_challenge_method": {"S256"},
	}
	tests := []struct {
		name       string
		set        url.Values
		wantStatus int
		wantError  string // OAuth error in the redirect; "" for an error page
	}{
		{"unknown client", url.Values{"client_id": {"nobody"}}, http.StatusBadRequest, ""},
		{"unregistered redirect_uri", url.Values{"redirect_uri": {"http://evil.example/cb"}}, http.StatusBadRequest, ""},
		{"redirect_uri prefix only", url.Values{"redirect_uri": {redirectURI + "/x"}}, http.StatusBadRequest, ""},
		{"implicit flow", url.Values{"response_type": {"token"}}, http.StatusFound, "unsupported_response_type"},
		{"no PKCE", url.Values{"code_challenge": {""}, "code_challenge_method": {""}}, http.StatusFound, "invalid_request"},
		{"plain PKCE", url.Values{"code_challenge_method": {"plain"}}, http.StatusFound, "invalid_request"},
		{"unknown audience", url.Values{"audience": {"https://other.example"}}, http.StatusFound, "access_denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := url.Values{}
			for k, v := range good {
				q[k] = v
			}
			for k, v := range tt.set {
				q[k] = v
			}
			resp := get(t, newBrowser(t), f.issuer+"authorize?"+q.Encode())
			require.Equal(t, tt.wantStatus, resp.StatusCode)
			if tt.wantError == "" {
				require.Empty(t, resp.Header.Get("Location"))
				require.Contains(t, resp.Header.Get("Content-Type"), "text/html")
				return
			}
			loc, err := url.Parse(resp.Header.Get("Location"))
			require.NoError(t, err)
			require.Equal(t, tt.wantError, loc.Query().Get("error"))
			require.Equal(t, "s1", loc.Query().Get("state"))
			require.Empty(t, loc.Query().Get("code"))
		})
	}
}

func TestUserinfoRejects(t *testing.T) {
	f := newFixture(t, nil)
	tok, _ := f.login(t)
	idToken, _ := tok.Extra("id_token").(string)
	tests := []struct {
		name, auth string
	}{
		{"no token", ""},
		{"garbage", "Bearer abc"},
		{"tampered", "Bearer " + tok.AccessToken[:len(tok.AccessToken)-4] + "AAAA"},
		{"id token is not for userinfo", "Bearer " + idToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, f.issuer+"userinfo", nil)
			require.NoError(t, err)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			require.Contains(t, resp.Header.Get("WWW-Authenticate"), "invalid_token")
		})
	}
}
