package login_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/pkg/login"
)

// atHash is the OIDC at_hash of an RS256-signed token's access token.
func atHash(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// TestIDTokenClaimsRefused: the OIDC Core 3.1.3.7 rules go-oidc leaves out (sub, iat, at_hash), one
// row per trick, each signed with the provider's real key. Rows with wantErr false mark the edges.
func TestIDTokenClaimsRefused(t *testing.T) {
	p := newProvider(t)
	lp := p.login(t, nil)
	tests := []struct {
		name    string
		claims  map[string]any
		wantErr bool
	}{
		{"no sub", map[string]any{"sub": nil}, true},
		{"empty sub", map[string]any{"sub": ""}, true},
		{"sub a number", map[string]any{"sub": 42}, true},
		{"sub a list", map[string]any{"sub": []string{"auth0|alice", "auth0|bob"}}, true},
		{"sub with CR LF (header injection upstream)", map[string]any{"sub": "auth0|alice\r\nX-Admin: 1"}, true},
		{"sub with NUL", map[string]any{"sub": "auth0|alice\x00"}, true},
		{"sub not ASCII", map[string]any{"sub": "auth0|alіce"}, true},
		{"sub over 255 characters", map[string]any{"sub": strings.Repeat("a", 256)}, true},
		{"sub of 255 characters", map[string]any{"sub": strings.Repeat("a", 255)}, false},
		{"no iat", map[string]any{"iat": nil}, true},
		{"iat zero", map[string]any{"iat": 0}, true},
		{"iat a string", map[string]any{"iat": "now"}, true},
		{"iat 10 minutes in the future", map[string]any{"iat": now.Add(10 * time.Minute).Unix()}, true},
		{"iat 61 s in the future", map[string]any{"iat": now.Add(61 * time.Second).Unix()}, true},
		{"iat 60 s in the future (the allowed skew)", map[string]any{"iat": now.Add(time.Minute).Unix()}, false},
		{"iat a day ago, exp still ahead", map[string]any{"iat": now.Add(-24 * time.Hour).Unix()}, false},
		{"at_hash of another access token", map[string]any{"at_hash": atHash("at-other")}, true},
		{"at_hash garbage", map[string]any{"at_hash": "not-a-hash"}, true},
		{"at_hash matching the access token", map[string]any{"at_hash": atHash("at-1")}, false},
		{"no exp", map[string]any{"exp": nil}, true},
		{"nbf an hour ahead", map[string]any{"nbf": now.Add(time.Hour).Unix()}, true},
		{"iss with a trailing slash added", map[string]any{"iss": p.srv.URL + "/"}, true},
		{"aud a list without this client", map[string]any{"aud": []string{"other", "https://api"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := p.idToken(p.key, tt.claims)
			p.answer = func(*http.Request) (int, any) { return 200, tokenResponse(raw) }
			tok, err := lp.Exchange(context.Background(), "code", "verifier", "n-123")
			if !tt.wantErr {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, login.ErrInvalidToken)
			require.Nil(t, tok)
			requireNoTokenIn(t, err, raw)
		})
	}
	t.Run("refresh: the same rules", func(t *testing.T) {
		for _, claims := range []map[string]any{{"sub": ""}, {"iat": now.Add(10 * time.Minute).Unix()}, {"at_hash": atHash("x")}} {
			claims["nonce"] = nil
			raw := p.idToken(p.key, claims)
			p.answer = func(*http.Request) (int, any) { return 200, tokenResponse(raw) }
			_, err := lp.Refresh(context.Background(), "rt-old")
			require.ErrorIs(t, err, login.ErrInvalidToken, claims)
		}
	})
}
