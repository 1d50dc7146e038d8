package login_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc/oidctest"
	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/pkg/login"
)

var now = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// provider is a minimal OIDC provider whose token endpoint answers whatever the test sets. Discovery
// (/.well-known/openid-configuration) and JWKS (/keys) are oidctest's unless hooks replaces a path.
type provider struct {
	srv        *httptest.Server
	key        *rsa.PrivateKey
	op         *oidctest.Server // its PublicKeys are what /keys serves
	answer     func(r *http.Request) (int, any)
	hooks      map[string]http.HandlerFunc // by path, set before the requests they answer
	keyFetches atomic.Int64                // requests to /keys, hooked or not
}

func newProvider(t *testing.T) *provider {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	p := &provider{key: key, hooks: map[string]http.HandlerFunc{}}
	p.op = &oidctest.Server{PublicKeys: []oidctest.PublicKey{{PublicKey: key.Public(), KeyID: "k1", Algorithm: "RS256"}}}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/keys" {
			p.keyFetches.Add(1)
		}
		if h := p.hooks[r.URL.Path]; h != nil {
			h(w, r)
			return
		}
		if r.URL.Path != "/token" {
			p.op.ServeHTTP(w, r)
			return
		}
		status, body := p.answer(r)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(body)
	}))
	t.Cleanup(p.srv.Close)
	p.op.SetIssuer(p.srv.URL)
	return p
}

// idToken signs claims; base holds valid defaults that each case overrides.
func (p *provider) idToken(key *rsa.PrivateKey, override map[string]any) string {
	c := map[string]any{
		"iss": p.srv.URL, "sub": "auth0|alice", "aud": "client", "exp": now.Add(time.Hour).Unix(),
		"iat": now.Unix(), "nonce": "n-123", "email": "alice@example.com", "email_verified": true, "sid": "sid-1",
		"https://example.com/groups": []string{"admin", "ops"},
	}
	for k, v := range override {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	b, _ := json.Marshal(c)
	return oidctest.SignIDToken(key, "k1", "RS256", string(b))
}

func (p *provider) login(t *testing.T, mutate func(*login.Config)) *login.Provider {
	cfg := login.Config{
		IssuerURL: p.srv.URL, ClientID: "client", ClientSecret: "secret", RedirectURL: "https://app.test/oauth2/callback",
		Scopes: []string{"openid", "email", "offline_access"}, GroupsClaim: "https://example.com/groups",
		Now: func() time.Time { return now },
	}
	if mutate != nil {
		mutate(&cfg)
	}
	lp, err := login.New(context.Background(), cfg, p.srv.Client())
	require.NoError(t, err)
	return lp
}

func tokenResponse(idToken string) map[string]any {
	return map[string]any{"access_token": "at-1", "token_type": "Bearer", "expires_in": 600, "refresh_token": "rt-1", "id_token": idToken}
}

func TestExchangeVerifiesIDToken(t *testing.T) {
	p := newProvider(t)
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	lp := p.login(t, nil)
	tests := []struct {
		name    string
		key     *rsa.PrivateKey
		claims  map[string]any
		wantErr bool
	}{
		{"valid", p.key, nil, false},
		{"azp equal to client", p.key, map[string]any{"azp": "client", "aud": []string{"client", "https://api"}}, false},
		{"wrong nonce", p.key, map[string]any{"nonce": "other"}, true},
		{"no nonce", p.key, map[string]any{"nonce": nil}, true},
		{"wrong audience", p.key, map[string]any{"aud": "someone-else"}, true},
		{"several audiences without azp", p.key, map[string]any{"aud": []string{"client", "https://api"}}, true},
		{"azp of another client", p.key, map[string]any{"azp": "other"}, true},
		{"expired", p.key, map[string]any{"exp": now.Add(-time.Minute).Unix()}, true},
		{"wrong issuer", p.key, map[string]any{"iss": "https://evil.test/"}, true},
		{"signed by another key", otherKey, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p.answer = func(*http.Request) (int, any) { return 200, tokenResponse(p.idToken(tt.key, tt.claims)) }
			tok, err := lp.Exchange(context.Background(), "code", "verifier", "n-123")
			if tt.wantErr {
				require.ErrorIs(t, err, login.ErrInvalidToken)
				require.Nil(t, tok)
				return
			}
			require.NoError(t, err)
			require.Equal(t, "at-1", tok.AccessToken)
			require.Equal(t, "rt-1", tok.RefreshToken)
			require.Equal(t, now.Add(600*time.Second), tok.Expiry, "expiry from expires_in on the injected clock")
			c := tok.Claims // compared field by field: Claims also keeps the token's claims for Values
			require.Equal(t, []any{"auth0|alice", "alice@example.com", []string{"admin", "ops"}, "sid-1"}, []any{c.Subject, c.Email, c.Groups, c.SID})
		})
	}
	t.Run("no id token at all", func(t *testing.T) {
		p.answer = func(*http.Request) (int, any) { return 200, tokenResponse("") }
		_, err := lp.Exchange(context.Background(), "code", "verifier", "n-123")
		require.ErrorIs(t, err, login.ErrInvalidToken)
	})
}

func TestExchangeSendsPKCEAndClientAuth(t *testing.T) {
	p := newProvider(t)
	lp := p.login(t, nil)
	var form url.Values
	p.answer = func(r *http.Request) (int, any) {
		require.NoError(t, r.ParseForm())
		form = r.PostForm
		user, pass, _ := r.BasicAuth()
		form.Set("basic", user+":"+pass)
		return 200, tokenResponse(p.idToken(p.key, nil))
	}
	_, err := lp.Exchange(context.Background(), "the-code", "the-verifier", "n-123")
	require.NoError(t, err)
	require.Equal(t, "authorization_code", form.Get("grant_type"))
	require.Equal(t, "the-code", form.Get("code"))
	require.Equal(t, "the-verifier", form.Get("code_verifier"))
	require.Equal(t, "https://app.test/oauth2/callback", form.Get("redirect_uri"))
	require.Equal(t, "client:secret", form.Get("basic"))
}

func TestTokenEndpointErrors(t *testing.T) {
	p := newProvider(t)
	lp := p.login(t, nil)
	tests := []struct {
		name      string
		status    int
		body      any
		wantGrant bool
	}{
		{"invalid_grant 400", 400, map[string]string{"error": "invalid_grant"}, true},
		{"auth0 invalid_grant 403", 403, map[string]string{"error": "invalid_grant", "error_description": "Unknown or invalid refresh token."}, true},
		{"invalid_client is not the user's fault", 401, map[string]string{"error": "invalid_client"}, false},
		{"server error is transient", 503, map[string]string{"error": "temporarily_unavailable"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			p.answer = func(*http.Request) (int, any) { calls++; return tt.status, tt.body }
			_, err := lp.Refresh(context.Background(), "rt-old")
			require.Error(t, err)
			require.Equal(t, 1, calls, "a refused refresh token is never presented twice (reuse detection)")
			require.Equal(t, tt.wantGrant, errors.Is(err, login.ErrInvalidGrant), err)
			require.NotContains(t, err.Error(), "rt-old", "errors never carry the token")
		})
	}
}

func TestRefresh(t *testing.T) {
	p := newProvider(t)
	lp := p.login(t, nil)
	t.Run("rotated token and fresh id token", func(t *testing.T) {
		p.answer = func(r *http.Request) (int, any) {
			require.NoError(t, r.ParseForm())
			require.Equal(t, "refresh_token", r.PostForm.Get("grant_type"))
			require.Equal(t, "rt-old", r.PostForm.Get("refresh_token"))
			return 200, map[string]any{"access_token": "at-2", "token_type": "Bearer", "expires_in": 60, "refresh_token": "rt-2",
				"id_token": p.idToken(p.key, map[string]any{"nonce": nil})}
		}
		tok, err := lp.Refresh(context.Background(), "rt-old")
		require.NoError(t, err)
		require.Equal(t, "at-2", tok.AccessToken)
		require.Equal(t, "rt-2", tok.RefreshToken)
		require.Equal(t, "auth0|alice", tok.Claims.Subject)
		require.Equal(t, now.Add(time.Minute), tok.Expiry)
	})
	t.Run("no rotation, no id token, expiry from the JWT", func(t *testing.T) {
		exp := now.Add(5 * time.Minute).Unix()
		at := p.idToken(p.key, map[string]any{"exp": exp})
		p.answer = func(*http.Request) (int, any) {
			return 200, map[string]any{"access_token": at, "token_type": "Bearer"}
		}
		tok, err := lp.Refresh(context.Background(), "rt-old")
		require.NoError(t, err)
		require.Empty(t, tok.RefreshToken, "keep the old refresh token")
		require.Nil(t, tok.Claims)
		require.Equal(t, time.Unix(exp, 0), tok.Expiry)
	})
}

func TestStartAndLogoutURLs(t *testing.T) {
	p := newProvider(t)
	lp := p.login(t, func(c *login.Config) {
		c.Audience = "https://api.example.com"
		c.ExtraAuthParams = map[string]string{"connection": "github"}
		c.Logout = login.LogoutAuth0
	})
	a, err := lp.Start()
	require.NoError(t, err)
	u, err := url.Parse(a.URL)
	require.NoError(t, err)
	q := u.Query()
	require.Equal(t, p.srv.URL+"/auth", u.Scheme+"://"+u.Host+u.Path)
	require.Equal(t, a.State, q.Get("state"))
	require.Equal(t, a.Nonce, q.Get("nonce"))
	require.Equal(t, "S256", q.Get("code_challenge_method"))
	require.NotEqual(t, a.Verifier, q.Get("code_challenge"))
	require.Equal(t, "https://api.example.com", q.Get("audience"))
	require.Equal(t, "github", q.Get("connection"))
	require.Equal(t, "openid email offline_access", q.Get("scope"))
	b, err := lp.Start()
	require.NoError(t, err)
	require.NotEqual(t, a.State, b.State, "fresh secrets for every login")
	require.NotEqual(t, a.Verifier, b.Verifier)

	require.Equal(t, p.srv.URL+"/v2/logout?client_id=client&returnTo=https%3A%2F%2Fapp.test%2F", lp.LogoutURL("idt", "https://app.test/"))
	require.Empty(t, p.login(t, func(c *login.Config) { c.Logout = login.LogoutNone }).LogoutURL("idt", "https://app.test/"))
	require.Empty(t, p.login(t, nil).LogoutURL("idt", "https://app.test/"), "auto: no end_session_endpoint and not auth0")
}

func TestDiscoveryFailures(t *testing.T) {
	p := newProvider(t)
	_, err := login.New(context.Background(), login.Config{IssuerURL: p.srv.URL + "/other/", ClientID: "c", Now: time.Now}, p.srv.Client())
	require.Error(t, err)
	_, err = login.New(context.Background(), login.Config{IssuerURL: "http://127.0.0.1:1/", ClientID: "c", Timeout: time.Second}, nil)
	require.Error(t, err)
	require.True(t, strings.Contains(err.Error(), "discover provider"), fmt.Sprint(err))
}

func TestConcurrencyCap(t *testing.T) {
	p := newProvider(t)
	lp := p.login(t, func(c *login.Config) { c.MaxConcurrent = 2 })
	var mu sync.Mutex
	inFlight, most := 0, 0
	release := make(chan struct{})
	p.answer = func(*http.Request) (int, any) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		<-release
		mu.Lock()
		inFlight--
		mu.Unlock()
		return 200, map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 60}
	}
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			_, err := lp.Refresh(context.Background(), "rt")
			require.NoError(t, err)
		})
	}
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return inFlight == 2 }, 5*time.Second, time.Millisecond)
	close(release)
	wg.Wait()
	require.Equal(t, 2, most, "never more token calls in flight than the cap")
}

// TestVerifyLogoutToken checks logout tokens shaped like the ones real providers send: Ory Hydra's have
// no exp and no sub, only iss, aud, iat, jti, events and sid.
func TestVerifyLogoutToken(t *testing.T) {
	p := newProvider(t)
	lp := p.login(t, nil)
	event := map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}
	base := map[string]any{"nonce": nil, "sub": nil, "exp": nil, "email": nil, "https://example.com/groups": nil,
		"jti": "j1", "events": event, "sid": "sid-7"}
	with := func(extra map[string]any) map[string]any {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name    string
		claims  map[string]any
		wantErr bool
	}{
		{"Hydra-shaped: sid, no sub, no exp", with(nil), false},
		{"sub only, with exp", with(map[string]any{"sid": nil, "sub": "auth0|alice", "exp": now.Add(time.Minute).Unix()}), false},
		{"expired exp", with(map[string]any{"exp": now.Add(-time.Minute).Unix()}), true},
		{"iat too old", with(map[string]any{"iat": now.Add(-time.Hour).Unix()}), true},
		{"iat in the future", with(map[string]any{"iat": now.Add(time.Hour).Unix()}), true},
		{"nonce (an ID token)", with(map[string]any{"nonce": "n"}), true},
		{"no events", with(map[string]any{"events": nil}), true},
		{"events without the back-channel member", with(map[string]any{"events": map[string]any{"x": map[string]any{}}}), true},
		{"no jti", with(map[string]any{"jti": nil}), true},
		{"neither sid nor sub", with(map[string]any{"sid": nil}), true},
		{"another audience", with(map[string]any{"aud": "other"}), true},
		{"empty sub beside a sid", with(map[string]any{"sub": ""}), true},
		{"sub with CR LF", with(map[string]any{"sub": "auth0|alice\r\nX-Admin: 1"}), true},
		{"sub not a string", with(map[string]any{"sub": 7}), true},
		{"no iat", with(map[string]any{"iat": nil}), true},
		{"iat 61 s in the future", with(map[string]any{"iat": now.Add(61 * time.Second).Unix()}), true},
		{"iat 60 s in the future (the allowed skew)", with(map[string]any{"iat": now.Add(time.Minute).Unix()}), false},
		{"iat exactly the maximum age", with(map[string]any{"iat": now.Add(-login.LogoutTokenMaxAge).Unix()}), false},
		{"iat 1 s over the maximum age", with(map[string]any{"iat": now.Add(-login.LogoutTokenMaxAge - time.Second).Unix()}), true},
		{"exp this second", with(map[string]any{"exp": now.Unix()}), false},
		{"exp 1 s ago", with(map[string]any{"exp": now.Add(-time.Second).Unix()}), true},
		{"back-channel member not an object", with(map[string]any{"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": "yes"}}), true},
		{"events not an object", with(map[string]any{"events": "http://schemas.openid.net/event/backchannel-logout"}), true},
		{"empty jti", with(map[string]any{"jti": ""}), true},
		{"empty sid, no sub", with(map[string]any{"sid": ""}), true},
		{"another issuer", with(map[string]any{"iss": "https://evil.example"}), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := lp.VerifyLogoutToken(context.Background(), p.idToken(p.key, tt.claims))
			if tt.wantErr {
				require.ErrorIs(t, err, login.ErrInvalidLogoutToken)
				require.Nil(t, c)
				return
			}
			require.NoError(t, err)
			require.Equal(t, "j1", c.JTI)
			sub, _ := tt.claims["sub"].(string)
			sid, _ := tt.claims["sid"].(string)
			require.Equal(t, login.LogoutClaims{Subject: sub, SID: sid, JTI: "j1"}, *c)
		})
	}
	t.Run("signed by another key", func(t *testing.T) {
		other, err := rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(t, err)
		c, err := lp.VerifyLogoutToken(context.Background(), p.idToken(other, with(nil)))
		require.ErrorIs(t, err, login.ErrInvalidLogoutToken)
		require.Nil(t, c)
	})
	t.Run("keys unreachable: neither accepted nor refused", func(t *testing.T) {
		q := newProvider(t)
		lq := q.login(t, nil)
		q.hooks["/keys"] = func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) }
		c, err := lq.VerifyLogoutToken(context.Background(), q.idToken(q.key, with(nil)))
		require.Error(t, err)
		require.NotErrorIs(t, err, login.ErrInvalidLogoutToken)
		require.Nil(t, c)
	})
}
