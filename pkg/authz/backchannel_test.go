package authz_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc/oidctest"
	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/pkg/authz"
	"github.com/authbridge/authbridge/pkg/session"
)

// sidOf opens the session behind a Cookie header, to learn the provider session id it came from.
func sidOf(t *testing.T, env *enginetest.Env, cookie string) string {
	tk, err := session.ParseTicket(strings.TrimPrefix(cookie, "authbridge="))
	require.NoError(t, err)
	s, err := env.Sessions.Load(context.Background(), tk)
	require.NoError(t, err)
	require.NotEmpty(t, s.SID)
	return s.SID
}

func status401(t *testing.T, env *enginetest.Env, cookie string) bool {
	d, err := env.Engine.Decide(context.Background(), &authz.Request{Method: "GET", Scheme: "https", Host: enginetest.AppHost, URI: "/api", Cookie: cookie})
	require.NoError(t, err)
	return d.Status == http.StatusUnauthorized
}

func TestBackchannelLogout(t *testing.T) {
	t.Run("sid ends only that provider session", func(t *testing.T) {
		env := enginetest.New(t, enginetest.Options{})
		laptop, _ := env.Login(t, "/")
		phone, _ := env.Login(t, "/")
		tok, err := env.IDP.LogoutToken(enginetest.ClientID, enginetest.Alice.Subject, sidOf(t, env, laptop))
		require.NoError(t, err)
		n, err := env.Engine.BackchannelLogout(context.Background(), tok)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.True(t, status401(t, env, laptop))
		require.False(t, status401(t, env, phone))
	})
	t.Run("sub alone ends every session of the user", func(t *testing.T) {
		env := enginetest.New(t, enginetest.Options{})
		laptop, _ := env.Login(t, "/")
		phone, _ := env.Login(t, "/")
		tok, err := env.IDP.LogoutToken(enginetest.ClientID, enginetest.Alice.Subject, "")
		require.NoError(t, err)
		n, err := env.Engine.BackchannelLogout(context.Background(), tok)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		require.True(t, status401(t, env, laptop))
		require.True(t, status401(t, env, phone))
	})

	env := enginetest.New(t, enginetest.Options{})
	cookie, _ := env.Login(t, "/")
	sid := sidOf(t, env, cookie)
	forgedKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	claims := func(override map[string]any) string {
		c := map[string]any{"iss": env.IDPURL, "aud": enginetest.ClientID, "iat": env.Clock.Now().Unix(),
			"exp": env.Clock.Now().Add(time.Minute).Unix(), "jti": "j-" + time.Now().String(), "sid": sid,
			"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}}
		for k, v := range override {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		b, _ := json.Marshal(c)
		return string(b)
	}
	replayed, err := env.IDP.LogoutToken(enginetest.ClientID, "", sid)
	require.NoError(t, err)
	wrongAud, err := env.IDP.LogoutToken("another-client", "", sid)
	require.NoError(t, err)
	tests := []struct {
		name  string
		token string
	}{
		{"forged signature", oidctest.SignIDToken(forgedKey, "k", "RS256", claims(nil))},
		{"wrong audience", wrongAud},
		{"not a JWT", "not-a-token"},
		{"empty", ""},
	}
	for _, tt := range tests {
		t.Run("refused: "+tt.name, func(t *testing.T) {
			_, err := env.Engine.BackchannelLogout(context.Background(), tt.token)
			require.ErrorIs(t, err, authz.ErrLogoutToken)
			require.False(t, status401(t, env, cookie), "the session survives a refused token")
		})
	}
	t.Run("refused: replay", func(t *testing.T) {
		_, err := env.Engine.BackchannelLogout(context.Background(), replayed)
		require.NoError(t, err)
		_, err = env.Engine.BackchannelLogout(context.Background(), replayed)
		require.ErrorIs(t, err, authz.ErrLogoutToken)
	})
}

// TestLogoutTokenClaims checks the claim rules with tokens signed by the provider's real key (minted by
// the development provider with extra or missing claims).
func TestLogoutTokenClaims(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{})
	// An ID token carries a nonce and no events claim: it must never pass as a logout token.
	cookie, _ := env.Login(t, "/")
	tk, err := session.ParseTicket(strings.TrimPrefix(cookie, "authbridge="))
	require.NoError(t, err)
	s, err := env.Sessions.Load(context.Background(), tk)
	require.NoError(t, err)
	_, err = env.Engine.BackchannelLogout(context.Background(), s.IDToken)
	require.ErrorIs(t, err, authz.ErrLogoutToken)
	require.False(t, status401(t, env, cookie))

	// A logout token too old by iat is refused even though its signature is good.
	tok, err := env.IDP.LogoutToken(enginetest.ClientID, "", s.SID)
	require.NoError(t, err)
	env.Clock.Advance(11 * time.Minute)
	_, err = env.Engine.BackchannelLogout(context.Background(), tok)
	require.ErrorIs(t, err, authz.ErrLogoutToken)
}

// TestLogoutJTIRememberedWhileAcceptable: a logout token's jti is remembered for as long as the token
// could be accepted (its iat may be up to the skew ahead, and it is accepted until its iat is the
// maximum age old), so a replay is refused for the token's whole life. Review: a token with iat 59 s
// ahead was accepted again about 10 minutes later. Each row also sends a twin with a fresh jti at
// replay time, to show whether the token itself would still have been accepted.
func TestLogoutJTIRememberedWhileAcceptable(t *testing.T) {
	tests := []struct {
		name        string
		iat         time.Duration // relative to the first use
		replayAfter time.Duration
		twinOK      bool // the token is still acceptable when replayed
	}{
		{"iat 59 s ahead, replayed 10 min 30 s later (review)", 59 * time.Second, 10*time.Minute + 30*time.Second, true},
		{"iat 60 s ahead, replayed at its last acceptable instant", time.Minute, 11 * time.Minute, true},
		{"iat 60 s ahead, replayed a second after that", time.Minute, 11*time.Minute + time.Second, false},
		{"iat now, replayed at once", 0, 0, true},
		{"iat now, replayed 10 min later", 0, 10 * time.Minute, true},
		{"iat 10 min old, replayed at once", -10 * time.Minute, 0, true},
		{"iat 30 s ahead, replayed 10 min 30 s later", 30 * time.Second, 10*time.Minute + 30*time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := enginetest.New(t, enginetest.Options{})
			token := func(jti string, iat time.Time) string {
				tok, err := env.IDP.Sign(map[string]any{"iss": env.IDPURL, "aud": enginetest.ClientID, "iat": iat.Unix(),
					"jti": jti, "sub": enginetest.Alice.Subject,
					"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}})
				require.NoError(t, err)
				return tok
			}
			iat := env.Clock.Now().Add(tt.iat)
			_, err := env.Engine.BackchannelLogout(context.Background(), token("j-1", iat))
			require.NoError(t, err, "first use")
			env.Clock.Advance(tt.replayAfter)
			_, err = env.Engine.BackchannelLogout(context.Background(), token("j-1", iat))
			require.ErrorIs(t, err, authz.ErrLogoutToken, "replay")
			_, err = env.Engine.BackchannelLogout(context.Background(), token("j-2", iat))
			require.Equal(t, tt.twinOK, err == nil, "twin with a fresh jti: %v", err)
		})
	}
}

// TestBackchannelLogoutStoreError: when the store cannot remember the token's jti or cannot end the
// sessions, the logout is an error that is not ErrLogoutToken (the front answers 503 and the provider
// retries), never a success the provider would take as done. Once the store is back, the provider's retry
// of the same token ends the session: a jti recorded before the failure is forgotten again.
func TestBackchannelLogoutStoreError(t *testing.T) {
	for _, op := range []string{"Acquire", "Index"} {
		t.Run(op+" fails", func(t *testing.T) {
			store := &faultyStore{}
			env := enginetest.New(t, enginetest.Options{Store: store})
			store.Store = session.NewMemoryStore(env.Clock.Now)
			cookie, _ := env.Login(t, "/")
			tok, err := env.IDP.LogoutToken(enginetest.ClientID, enginetest.Alice.Subject, sidOf(t, env, cookie))
			require.NoError(t, err)

			store.set(op, true)
			n, err := env.Engine.BackchannelLogout(context.Background(), tok)
			require.ErrorIs(t, err, errStoreDown)
			require.NotErrorIs(t, err, authz.ErrLogoutToken, "a store failure is not the token's fault")
			require.Zero(t, n)
			require.False(t, status401(t, env, cookie))
			store.set(op, false)

			// The provider's retry of the same token is not taken for a replay.
			n, err = env.Engine.BackchannelLogout(context.Background(), tok)
			require.NoError(t, err)
			require.Equal(t, 1, n)
			require.True(t, status401(t, env, cookie))
			_, err = env.Engine.BackchannelLogout(context.Background(), tok)
			require.ErrorIs(t, err, authz.ErrLogoutToken, "once it succeeded, the token is spent")
		})
	}
}
