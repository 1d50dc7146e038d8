package authz

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/pkg/login"
	"github.com/authbridge/authbridge/pkg/session"
)

// TestApplyRefresh: a refresh's answer replaces the access token and expiry; a rotated refresh token
// and a new ID token replace the old ones (kept when the provider sends none); the claims of a new ID
// token replace the session's, and one naming another subject ends the refresh as an invalid token.
func TestApplyRefresh(t *testing.T) {
	e := &Engine{policy: &CompiledPolicy{}}
	exp := time.Unix(1_800_000_000, 0)
	old := session.Session{Subject: "auth0|alice", Email: "alice@example.com", Groups: []string{"admin"},
		AccessToken: "at-1", RefreshToken: "rt-1", IDToken: "id-1", Expiry: exp.Add(-time.Hour)}
	tests := []struct {
		name    string
		tok     login.Tokens
		want    session.Session // the fields apply may change
		wantErr bool
	}{
		{"access token only", login.Tokens{AccessToken: "at-2", Expiry: exp},
			session.Session{Email: "alice@example.com", Groups: []string{"admin"}, AccessToken: "at-2", RefreshToken: "rt-1", IDToken: "id-1", Expiry: exp}, false},
		{"rotated refresh token", login.Tokens{AccessToken: "at-2", RefreshToken: "rt-2", Expiry: exp},
			session.Session{Email: "alice@example.com", Groups: []string{"admin"}, AccessToken: "at-2", RefreshToken: "rt-2", IDToken: "id-1", Expiry: exp}, false},
		{"new id token, same subject", login.Tokens{AccessToken: "at-2", IDToken: "id-2", Expiry: exp,
			Claims: &login.Claims{Subject: "auth0|alice", Email: "alice@new.example", Groups: []string{"ops"}}},
			session.Session{Email: "alice@new.example", Groups: []string{"ops"}, AccessToken: "at-2", RefreshToken: "rt-1", IDToken: "id-2", Expiry: exp}, false},
		{"new id token naming another subject", login.Tokens{AccessToken: "at-2", IDToken: "id-2", Expiry: exp,
			Claims: &login.Claims{Subject: "auth0|mallory"}}, session.Session{}, true},
		{"new id token with no subject", login.Tokens{AccessToken: "at-2", IDToken: "id-2", Expiry: exp,
			Claims: &login.Claims{}}, session.Session{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := old
			got, err := e.apply(&s, &tt.tok)
			require.Equal(t, old, s, "the loaded session is left alone")
			if tt.wantErr {
				require.ErrorIs(t, err, login.ErrInvalidToken)
				require.Nil(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, old.Subject, got.Subject)
			got.Subject = ""
			require.Equal(t, tt.want, *got)
		})
	}
}
