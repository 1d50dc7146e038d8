package login_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/pkg/login"
)

const roles = "https://example.com/roles"

// TestClaimValues: the claims a policy names are read from the verified ID token as strings: a string is
// one value, a list of strings its elements, anything else none; every name asked for is a key.
func TestClaimValues(t *testing.T) {
	p := newProvider(t)
	lp := p.login(t, nil)
	tests := []struct {
		name  string
		claim any // nil: absent
		want  []string
	}{
		{"list", []string{"editor", "owner"}, []string{"editor", "owner"}},
		{"string", "editor", []string{"editor"}},
		{"empty list", []string{}, []string{}},
		{"empty string", "", nil},
		{"absent", nil, nil},
		{"number", 1, nil},
		{"boolean", true, nil},
		{"object", map[string]any{"a": "b"}, nil},
		{"mixed list", []any{"editor", 1}, nil},
		{"list with null", []any{"editor", nil}, nil},
		{"list with an empty string", []any{"editor", ""}, []string{"editor"}},
		{"null", json.RawMessage("null"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p.answer = func(*http.Request) (int, any) {
				return 200, tokenResponse(p.idToken(p.key, map[string]any{roles: tt.claim}))
			}
			tok, err := lp.Exchange(context.Background(), "code", "verifier", "n-123")
			require.NoError(t, err)
			got := tok.Claims.Values([]string{roles, "sid"})
			require.Len(t, got, 2)
			require.Contains(t, got, roles, "a name asked for is a key, with or without values")
			require.Equal(t, tt.want, got[roles])
			require.Equal(t, []string{"sid-1"}, got["sid"])
			require.Nil(t, tok.Claims.Values(nil))
		})
	}
}

// TestReadClaims: explain's reading of a claims file follows the login's rules for the e-mail address
// and the groups claim.
func TestReadClaims(t *testing.T) {
	tests := []struct {
		name       string
		payload    string
		allowUnver bool
		wantEmail  string
		wantGroups []string
	}{
		{"verified", `{"sub":"s","email":"a@example.com","email_verified":true,"grp":["x"]}`, false, "a@example.com", []string{"x"}},
		{"unverified", `{"sub":"s","email":"a@example.com","email_verified":false,"grp":"x"}`, false, "", []string{"x"}},
		{"verified as a string", `{"sub":"s","email":"a@example.com","email_verified":"true"}`, false, "", nil},
		{"unverified allowed", `{"sub":"s","email":"a@example.com"}`, true, "a@example.com", nil},
		{"malformed", `{"sub":"s","email":"a@b@example.com","email_verified":true}`, true, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := login.ReadClaims([]byte(tt.payload), "grp", tt.allowUnver)
			require.NoError(t, err)
			require.Equal(t, "s", c.Subject)
			require.Equal(t, tt.wantEmail, c.Email)
			require.Equal(t, tt.wantGroups, c.Groups)
		})
	}
	c, err := login.ReadClaims([]byte(`{"sub":"s","`+roles+`":["editor"]}`), "", false)
	require.NoError(t, err)
	require.Equal(t, map[string][]string{roles: {"editor"}}, c.Values([]string{roles}))
	_, err = login.ReadClaims([]byte(`[1]`), "", false)
	require.Error(t, err)
}
