package authz_test

import (
	"encoding/base64"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/internal/logbuf"
	"github.com/authbridge/authbridge/pkg/authz"
)

// The challenges of refused API clients, exactly as sent.
const (
	challengeExpired  = `Bearer realm="authbridge", error="invalid_token", error_description="The token has expired"`
	challengeAudience = `Bearer realm="authbridge", error="invalid_token", error_description="The token is not meant for this service"`
	challengeIssuer   = `Bearer realm="authbridge", error="invalid_token", error_description="The token's issuer is not accepted"`
	challengeAlg      = `Bearer realm="authbridge", error="invalid_token", error_description="The token's signing algorithm is not accepted"`
	challengeNotJWT   = `Bearer realm="authbridge", error="invalid_token", error_description="The token is not a signed JWT"`
	challengeSig      = `Bearer realm="authbridge", error="invalid_token", error_description="The token's signature does not verify"`
	challengeRequest  = `Bearer realm="authbridge", error="invalid_request", error_description="The Authorization header is not one well-formed bearer token"`
	challengeScope    = `Bearer realm="authbridge", error="insufficient_scope"`
	challengeSession  = `Bearer realm="authbridge"` // the session path's own 401
)

// bearerEnv is an engine with bearer tokens on and the estate of appPolicy, logging at Debug into logs.
func bearerEnv(t *testing.T) (*enginetest.Env, *logbuf.Buffer) {
	t.Helper()
	logs := &logbuf.Buffer{}
	env := enginetest.New(t, enginetest.Options{Bearer: true, Engine: authz.Options{Policy: appPolicy,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}})
	return env, logs
}

// apiClaims are the claims of a valid access token from env's provider for an API client, with
// override applied (a nil value deletes a claim).
func apiClaims(env *enginetest.Env, override map[string]any) map[string]any {
	now := env.Clock.Now()
	c := map[string]any{
		"iss": env.IDPURL, "sub": "svc|reports", "aud": []string{enginetest.Audience, env.IDPURL + "userinfo"},
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "scope": "read:reports",
		"email": "svc@example.com", "email_verified": true, "groups": []string{"reporting"},
	}
	for k, v := range override {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func signAPI(t *testing.T, env *enginetest.Env, override map[string]any) string {
	t.Helper()
	tok, err := env.IDP.SignTyped("at+jwt", apiClaims(env, override))
	require.NoError(t, err)
	return tok
}

func accessToken(t *testing.T, env *enginetest.Env, user string) string {
	t.Helper()
	tok, err := env.IDP.AccessToken(enginetest.ClientID, user, "openid read:items")
	require.NoError(t, err)
	return tok
}

// apiCall is an API client's request: no cookie, the given Authorization header.
func apiCall(method, uri, authorization string) *authz.Request {
	return &authz.Request{Front: "test", Method: method, Scheme: "https", Host: enginetest.AppHost, URI: uri,
		Accept: "application/json", Authorization: authorization}
}

// TestBearerClients: an API client's bearer JWT is verified against the provider's keys, held to the
// same route policy as a session, and refused with RFC 6750 challenges, never a login redirect.
func TestBearerClients(t *testing.T) {
	env, logs := bearerEnv(t)
	alice, bob := accessToken(t, env, "alice"), accessToken(t, env, "bob")
	noneAlg := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
		strings.Split(alice, ".")[1] + "."
	forged := alice[:strings.LastIndexByte(alice, '.')+1] + base64.RawURLEncoding.EncodeToString(make([]byte, 256))
	tests := []struct {
		name          string
		req           *authz.Request
		wantStatus    int
		wantChallenge string // for 4xx
		wantUser      string // for 200
		wantEmail     string
	}{
		{"valid token", apiCall("GET", "/api/items", "Bearer "+alice), 200, "", "auth0|alice", ""},
		{"valid token, POST", apiCall("POST", "/api/items", "Bearer "+bob), 200, "", "auth0|bob", ""},
		{"scheme in lower case (RFC 7235)", apiCall("GET", "/api/items", "bearer "+alice), 200, "", "auth0|alice", ""},
		{"scheme in upper case", apiCall("GET", "/api/items", "BEARER "+alice), 200, "", "auth0|alice", ""},
		{"verified email from the token", apiCall("GET", "/", "Bearer "+signAPI(t, env, nil)), 200, "", "svc|reports", "svc@example.com"},
		{"unverified email not passed on", apiCall("GET", "/", "Bearer "+signAPI(t, env, map[string]any{"email_verified": false})), 200, "", "svc|reports", ""},
		{"typ JWT", apiCall("GET", "/", "Bearer "+func() string {
			tok, err := env.IDP.SignTyped("JWT", apiClaims(env, nil))
			require.NoError(t, err)
			return tok
		}()), 200, "", "svc|reports", "svc@example.com"},

		{"expired", apiCall("GET", "/api/items", "Bearer "+signAPI(t, env, map[string]any{"exp": env.Clock.Now().Add(-time.Hour).Unix()})), 401, challengeExpired, "", ""},
		{"wrong audience", apiCall("GET", "/api/items", "Bearer "+signAPI(t, env, map[string]any{"aud": "https://elsewhere.example"})), 401, challengeAudience, "", ""},
		{"wrong issuer", apiCall("GET", "/api/items", "Bearer "+signAPI(t, env, map[string]any{"iss": "https://evil.example/"})), 401, challengeIssuer, "", ""},
		{"alg none, no signature", apiCall("GET", "/api/items", "Bearer "+noneAlg), 401, challengeNotJWT, "", ""},
		{"alg none with a signature part", apiCall("GET", "/api/items", "Bearer "+noneAlg+"c2ln"), 401, challengeAlg, "", ""},
		{"bad signature", apiCall("GET", "/api/items", "Bearer "+forged), 401, challengeSig, "", ""},
		{"opaque token", apiCall("GET", "/api/items", "Bearer 8xLOxBtZp8"), 401, challengeNotJWT, "", ""},
		{"garbage in three parts", apiCall("GET", "/api/items", "Bearer a.b.c"), 401, challengeNotJWT, "", ""},
		{"navigation with an invalid token: 401, not a redirect", func() *authz.Request {
			r := enginetest.Navigate("/api/items", "")
			r.Authorization = "Bearer 8xLOxBtZp8"
			return r
		}(), 401, challengeNotJWT, "", ""},
		{"navigation with a valid token", func() *authz.Request {
			r := enginetest.Navigate("/api/items", "")
			r.Authorization = "Bearer " + alice
			return r
		}(), 200, "", "auth0|alice", ""},

		{"Bearer without a token", apiCall("GET", "/api/items", "Bearer"), 400, challengeRequest, "", ""},
		{"Bearer and a space only", apiCall("GET", "/api/items", "Bearer "), 400, challengeRequest, "", ""},
		{"two spaces", apiCall("GET", "/api/items", "Bearer  "+alice), 400, challengeRequest, "", ""},
		{"a tab", apiCall("GET", "/api/items", "Bearer\t"+alice), 400, challengeRequest, "", ""},
		{"trailing space", apiCall("GET", "/api/items", "Bearer "+alice+" "), 400, challengeRequest, "", ""},
		{"two tokens", apiCall("GET", "/api/items", "Bearer "+alice+" "+bob), 400, challengeRequest, "", ""},
		{"not token68", apiCall("GET", "/api/items", `Bearer "quoted"`), 400, challengeRequest, "", ""},
		{"another scheme: no credential, the session path answers", apiCall("GET", "/api/items", "Basic YTpi"), 401, challengeSession, "", ""},
		{"a scheme that only starts with Bearer", apiCall("GET", "/api/items", "Bearerx "+alice), 401, challengeSession, "", ""},

		{"admin route, token in the group", apiCall("GET", "/admin/users", "Bearer "+alice), 200, "", "auth0|alice", ""},
		{"admin route, token without the group", apiCall("GET", "/admin/users", "Bearer "+bob), 403, challengeScope, "", ""},
		{"admin route named by the gateway", func() *authz.Request {
			r := apiCall("GET", "/anything", "Bearer "+bob)
			r.Route = "admin"
			return r
		}(), 403, challengeScope, "", ""},
		{"claim route, claim holds a value", apiCall("GET", "/edit/doc", "Bearer "+signAPI(t, env, map[string]any{roles: []string{"viewer", "editor"}})), 200, "", "svc|reports", "svc@example.com"},
		{"claim route, claim a string", apiCall("GET", "/edit/doc", "Bearer "+signAPI(t, env, map[string]any{roles: "owner"})), 200, "", "svc|reports", "svc@example.com"},
		{"claim route, list mixing strings and numbers: no values, as for a session", apiCall("GET", "/edit/doc", "Bearer "+signAPI(t, env, map[string]any{roles: []any{"editor", 1}})), 403, challengeScope, "", ""},
		{"claim route, claim absent", apiCall("GET", "/edit/doc", "Bearer "+alice), 403, challengeScope, "", ""},
		{"email route, verified address listed", apiCall("GET", "/boss", "Bearer "+signAPI(t, env, map[string]any{"email": "alice@example.com"})), 200, "", "svc|reports", "alice@example.com"},
		{"email route, address unverified", apiCall("GET", "/boss", "Bearer "+signAPI(t, env, map[string]any{"email": "alice@example.com", "email_verified": false})), 403, challengeScope, "", ""},

		{"public route with an invalid token: allowed, no identity", apiCall("GET", "/static/app.js", "Bearer 8xLOxBtZp8"), 200, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := env.Engine.Decide(ctx, tt.req)
			require.NoError(t, err)
			require.Equal(t, tt.wantStatus, d.Status, d.Reason)
			if tt.wantStatus != http.StatusOK {
				require.Equal(t, authz.Deny, d.Outcome, "never a redirect")
				require.Equal(t, tt.wantChallenge, d.Header.Get("WWW-Authenticate"))
				require.Nil(t, d.Upstream)
				require.Empty(t, d.Cookies)
				if tt.wantChallenge != challengeSession {
					require.Equal(t, "application/json", d.Header.Get("Content-Type"))
					require.Contains(t, d.Body, `"error":`)
					require.NotContains(t, d.Body, "login_url", "an API client is not sent to log in")
				}
				return
			}
			require.Equal(t, authz.Allow, d.Outcome)
			want := tt.req.Authorization
			if tt.wantUser == "" {
				want = "" // public: no identity, the client's header removed
			}
			require.Equal(t, []string{want}, d.Upstream.Values(authz.HeaderAuthorization), "the same Authorization, unchanged")
			require.Equal(t, []string{tt.wantUser}, d.Upstream.Values(authz.HeaderUser))
			require.Equal(t, []string{tt.wantEmail}, d.Upstream.Values(authz.HeaderEmail))
		})
	}
	require.NotContains(t, logs.String(), strings.Split(alice, ".")[2], "no log line holds a token")
	require.NotContains(t, logs.String(), "8xLOxBtZp8")
}

// TestBearerIssuerUnreachable: when the provider's keys cannot be fetched, the engine cannot decide
// (503, fail closed): neither an allow nor a 401 that would make a client drop a good token.
func TestBearerIssuerUnreachable(t *testing.T) {
	env, _ := bearerEnv(t)
	tok := accessToken(t, env, "alice")
	env.IDP.SetKeysDown(true)
	d, err := env.Engine.Decide(ctx, apiCall("GET", "/api/items", "Bearer "+tok))
	require.Error(t, err)
	require.Nil(t, d)
	require.NotContains(t, err.Error(), tok)

	env.IDP.SetKeysDown(false)
	env.Clock.Advance(time.Minute) // past the verifier's refetch interval
	d, err = env.Engine.Decide(ctx, apiCall("GET", "/api/items", "Bearer "+tok))
	require.NoError(t, err)
	require.Equal(t, authz.Allow, d.Outcome, d.Reason)
}

// TestBearerWithSessionCookie: a request with both a session cookie and a bearer token is decided by
// the session alone: the session's user, the session's access token upstream (the client's header
// replaced), even when the bearer token would have been refused or allowed otherwise.
func TestBearerWithSessionCookie(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{Bearer: true, AutoLogin: "bob", Engine: authz.Options{Policy: appPolicy}})
	cookie, _ := env.Login(t, "/")
	alice := accessToken(t, env, "alice")

	req := apiCall("GET", "/admin/users", "Bearer "+alice)
	req.Cookie = cookie
	d, err := env.Engine.Decide(ctx, req)
	require.NoError(t, err)
	require.Equal(t, http.StatusForbidden, d.Status, "bob's session decides, not alice's token")
	require.Empty(t, d.Header.Get("WWW-Authenticate"), "a session's 403 is not a bearer challenge")

	for _, h := range []string{"Bearer " + alice, "Bearer not-a-jwt", "Bearer"} {
		req := apiCall("GET", "/api/items", h)
		req.Cookie = cookie
		d, err := env.Engine.Decide(ctx, req)
		require.NoError(t, err)
		require.Equal(t, authz.Allow, d.Outcome, d.Reason)
		require.Equal(t, "auth0|bob", d.Upstream.Get(authz.HeaderUser))
		up := d.Upstream.Get(authz.HeaderAuthorization)
		require.True(t, strings.HasPrefix(up, "Bearer "), up)
		require.NotEqual(t, h, up, "the session's token replaces the client's")
	}

	// A session cookie that names no session: the session path answers (login), not the token.
	req = apiCall("GET", "/api/items", "Bearer "+alice)
	req.Cookie = "authbridge=garbage"
	d, err = env.Engine.Decide(ctx, req)
	require.NoError(t, err)
	require.Equal(t, http.StatusUnauthorized, d.Status)
	require.Equal(t, challengeSession, d.Header.Get("WWW-Authenticate"))
}

// TestBearerOff: without a verifier, a bearer token is no credential at all: the session path answers
// (401 with a login URL, or a login redirect for a navigation), as before API clients existed.
func TestBearerOff(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{Engine: authz.Options{Policy: appPolicy}})
	tok := accessToken(t, env, "alice")
	d, err := env.Engine.Decide(ctx, apiCall("GET", "/api/items", "Bearer "+tok))
	require.NoError(t, err)
	require.Equal(t, http.StatusUnauthorized, d.Status)
	require.Equal(t, challengeSession, d.Header.Get("WWW-Authenticate"))
	require.Contains(t, d.Body, "login_url")

	nav := enginetest.Navigate("/api/items", "")
	nav.Authorization = "Bearer " + tok
	d, err = env.Engine.Decide(ctx, nav)
	require.NoError(t, err)
	require.Equal(t, authz.Redirect, d.Outcome)

	cookie, _ := env.Login(t, "/")
	req := apiCall("GET", "/api/items", "Bearer "+tok)
	req.Cookie = cookie
	d, err = env.Engine.Decide(ctx, req)
	require.NoError(t, err)
	require.Equal(t, authz.Allow, d.Outcome)
	require.NotEqual(t, "Bearer "+tok, d.Upstream.Get(authz.HeaderAuthorization), "replaced by the session's token")
}
