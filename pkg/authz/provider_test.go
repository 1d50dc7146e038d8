package authz_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc/oidctest"
	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/pkg/authz"
	"github.com/authbridge/authbridge/pkg/devidp"
	"github.com/authbridge/authbridge/pkg/login"
)

// editJSON rewrites the provider's token answer as a JSON object.
func editJSON(t *testing.T, f func(m map[string]any)) devidp.TokenRewrite {
	return func(_ http.Header, body []byte) []byte {
		var m map[string]any
		require.NoError(t, json.Unmarshal(body, &m))
		f(m)
		out, err := json.Marshal(m)
		require.NoError(t, err)
		return out
	}
}

// editIDToken re-signs the answer's ID token with the provider's own key after f changed its claims.
func editIDToken(t *testing.T, idp *devidp.IDP, f func(c map[string]any)) devidp.TokenRewrite {
	return editJSON(t, func(m map[string]any) {
		parts := strings.Split(m["id_token"].(string), ".")
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		require.NoError(t, err)
		var c map[string]any
		require.NoError(t, json.Unmarshal(payload, &c))
		f(c)
		m["id_token"], err = idp.Sign(c)
		require.NoError(t, err)
	})
}

// hostileAnswers are token answers that must be refused; each is a rewrite of a faithful answer.
func hostileAnswers(t *testing.T, env *enginetest.Env) []struct {
	name    string
	rewrite devidp.TokenRewrite
} {
	return []struct {
		name    string
		rewrite devidp.TokenRewrite
	}{
		{"token_type mac", editJSON(t, func(m map[string]any) { m["token_type"] = "mac" })},
		{"form-encoded body", func(h http.Header, body []byte) []byte {
			var m map[string]any
			require.NoError(t, json.Unmarshal(body, &m))
			q := url.Values{}
			for k, v := range m {
				q.Set(k, fmt.Sprint(v))
			}
			h.Set("Content-Type", "application/x-www-form-urlencoded")
			return []byte(q.Encode())
		}},
		{"JSON served as text/html", func(h http.Header, body []byte) []byte { h.Set("Content-Type", "text/html"); return body }},
		{"id_token named twice", func(_ http.Header, body []byte) []byte {
			return append([]byte(`{"id_token":"x.y.z",`), body[1:]...)
		}},
		{"body over 1 MiB", func(_ http.Header, body []byte) []byte {
			return append(append(body[:len(body)-2:len(body)-2], strings.Repeat(" ", login.MaxBodyBytes)...), '}')
		}},
		{"ID token without sub", editIDToken(t, env.IDP, func(c map[string]any) { delete(c, "sub") })},
		{"ID token with an empty sub", editIDToken(t, env.IDP, func(c map[string]any) { c["sub"] = "" })},
		{"ID token issued 10 minutes ahead", editIDToken(t, env.IDP, func(c map[string]any) { c["iat"] = env.Clock.Now().Add(10 * time.Minute).Unix() })},
		{"ID token without iat", editIDToken(t, env.IDP, func(c map[string]any) { delete(c, "iat") })},
		{"ID token whose at_hash is another token's", editIDToken(t, env.IDP, func(c map[string]any) { c["at_hash"] = "bm90IHRoaXMgdG9rZW4" })},
		{"ID token with alg none", editJSON(t, func(m map[string]any) {
			parts := strings.Split(m["id_token"].(string), ".")
			m["id_token"] = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + "."
		})},
	}
}

// TestHostileTokenAnswersAre4xx: a refused provider answer at the callback is a 400 to the browser (never
// an error, which the fronts would turn into a 5xx that invites a retry), and no session is made; at
// refresh it ends the session, with a 401, not an error.
func TestHostileTokenAnswersAre4xx(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{TokenTTL: 10 * time.Minute})
	ctx := context.Background()
	for _, tt := range hostileAnswers(t, env) {
		t.Run("callback: "+tt.name, func(t *testing.T) {
			d, err := env.Engine.Decide(ctx, enginetest.Navigate("/", ""))
			require.NoError(t, err)
			cb := env.FollowToProvider(t, d.Location)
			env.IDP.SetTokenRewrite(tt.rewrite)
			t.Cleanup(func() { env.IDP.SetTokenRewrite(nil) })
			d, err = env.Engine.Decide(ctx, enginetest.Navigate(cb, enginetest.CookieHeader(d.Cookies)))
			require.NoError(t, err)
			require.Equal(t, authz.Deny, d.Outcome, d.Reason)
			require.Equal(t, http.StatusBadRequest, d.Status)
			for _, c := range d.Cookies {
				require.NotEqual(t, "authbridge", c.Name, "no session cookie")
			}
		})
		t.Run("refresh: "+tt.name, func(t *testing.T) {
			cookie, _ := env.Login(t, "/")
			env.Clock.Advance(10 * time.Minute) // the access token has expired
			env.IDP.SetTokenRewrite(tt.rewrite)
			t.Cleanup(func() { env.IDP.SetTokenRewrite(nil) })
			require.True(t, status401(t, env, cookie), "the session ends with a 401")
			env.IDP.SetTokenRewrite(nil)
			require.True(t, status401(t, env, cookie), "and stays ended")
		})
	}
}

// forgedLogoutToken is a logout token for sid signed by an attacker's key under a kid of its own.
func forgedLogoutToken(env *enginetest.Env, key *rsa.PrivateKey, kid, sid string) string {
	c, _ := json.Marshal(map[string]any{"iss": env.IDPURL, "aud": enginetest.ClientID, "iat": env.Clock.Now().Unix(),
		"jti": "jti-" + kid, "sid": sid, "events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}})
	return oidctest.SignIDToken(key, kid, "RS256", string(c))
}

// TestForgedKidsFetchKeysOnce is the review's case: 30 forged logout tokens, each with an unknown kid,
// cost the provider at most one JWKS fetch, and logins go on using the same keys.
func TestForgedKidsFetchKeysOnce(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{})
	cookie, _ := env.Login(t, "/")
	sid := sidOf(t, env, cookie)
	require.Equal(t, 1, env.IDP.Stats().KeyFetches)
	forger, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	env.Clock.Advance(login.KeyRefetchInterval)
	for i := range 30 {
		_, err := env.Engine.BackchannelLogout(context.Background(), forgedLogoutToken(env, forger, fmt.Sprintf("kid-%d", i), sid))
		require.ErrorIs(t, err, authz.ErrLogoutToken)
	}
	require.Equal(t, 2, env.IDP.Stats().KeyFetches, "one fetch for 30 unknown kids")
	require.False(t, status401(t, env, cookie), "the session survives")
	env.Login(t, "/")
	require.Equal(t, 2, env.IDP.Stats().KeyFetches, "login verifies with the same key set")
}

// TestLogoutKeysUnreachable: when the provider's keys cannot be fetched, a logout token is neither
// accepted nor refused: BackchannelLogout fails without ErrLogoutToken (503), so the provider retries.
func TestLogoutKeysUnreachable(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{})
	cookie, _ := env.Login(t, "/")
	forger, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	env.Clock.Advance(login.KeyRefetchInterval)
	env.IDP.SetKeysDown(true)
	_, err = env.Engine.BackchannelLogout(context.Background(), forgedLogoutToken(env, forger, "rotated", sidOf(t, env, cookie)))
	require.Error(t, err)
	require.NotErrorIs(t, err, authz.ErrLogoutToken)
	require.False(t, status401(t, env, cookie))
}
