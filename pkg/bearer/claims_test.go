package bearer_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/pkg/bearer"
)

// with returns a row token signed by the main issuer with override applied to valid claims.
func with(override map[string]any) func(t *testing.T, f *fixture) string {
	return func(t *testing.T, f *fixture) string { return f.sign(t, f.a, override) }
}

// TestVerifyTimes: exp is required and may be at most Skew behind; nbf and iat at most Skew ahead;
// each is a JSON number.
func TestVerifyTimes(t *testing.T) {
	f := newFixture(t, nil)
	at := func(d time.Duration) int64 { return f.clock.Now().Add(d).Unix() }
	runRows(t, f, []row{
		{"exp missing", with(map[string]any{"exp": nil}), bearer.ErrNoExpiry},
		{"exp a numeric string", with(map[string]any{"exp": "2000000000"}), bearer.ErrNoExpiry},
		{"exp null", with(map[string]any{"exp": json.RawMessage("null")}), bearer.ErrNoExpiry},
		{"exp zero", with(map[string]any{"exp": 0}), bearer.ErrNoExpiry},
		{"exp negative", with(map[string]any{"exp": -1}), bearer.ErrNoExpiry},
		{"exp beyond year 9999", with(map[string]any{"exp": 1e300}), bearer.ErrNoExpiry},
		{"exp an object", with(map[string]any{"exp": map[string]any{"$numberLong": "2000000000"}}), bearer.ErrNoExpiry},
		{"exp 31s ago", with(map[string]any{"exp": at(-31 * time.Second)}), bearer.ErrExpired},
		{"exp 29s ago, inside the skew", with(map[string]any{"exp": at(-29 * time.Second)}), nil},
		{"exp fractional", with(map[string]any{"exp": float64(at(time.Minute)) + 0.5}), nil},
		{"nbf 31s ahead", with(map[string]any{"nbf": at(31 * time.Second)}), bearer.ErrNotYetValid},
		{"nbf 29s ahead, inside the skew", with(map[string]any{"nbf": at(29 * time.Second)}), nil},
		{"nbf a string", with(map[string]any{"nbf": "0"}), bearer.ErrNotYetValid},
		{"iat 31s ahead", with(map[string]any{"iat": at(31 * time.Second)}), bearer.ErrIssuedAt},
		{"iat 29s ahead, inside the skew", with(map[string]any{"iat": at(29 * time.Second)}), nil},
		{"iat a string", with(map[string]any{"iat": "yesterday"}), bearer.ErrIssuedAt},
		{"iat missing", with(map[string]any{"iat": nil}), nil},
	})
}

// TestVerifyAudienceAndSubject: aud (a string or an array of strings) must name a configured audience,
// exactly; sub must be there and fit a header.
func TestVerifyAudienceAndSubject(t *testing.T) {
	f := newFixture(t, func(o *bearer.Options) { o.Audiences = []string{api, "urn:second-api"} })
	runRows(t, f, []row{
		{"aud our audience alone, a string", with(map[string]any{"aud": api}), nil},
		{"aud an array holding ours among others", with(map[string]any{"aud": []string{"https://other", api}}), nil},
		{"aud the second configured audience", with(map[string]any{"aud": "urn:second-api"}), nil},
		{"aud missing", with(map[string]any{"aud": nil}), bearer.ErrAudience},
		{"aud another API", with(map[string]any{"aud": "https://other.example.com"}), bearer.ErrAudience},
		{"aud ours with another case", with(map[string]any{"aud": strings.ToUpper(api)}), bearer.ErrAudience},
		{"aud ours with a trailing slash", with(map[string]any{"aud": api + "/"}), bearer.ErrAudience},
		{"aud empty array", with(map[string]any{"aud": []string{}}), bearer.ErrAudience},
		{"aud array with a number", with(map[string]any{"aud": []any{api, 5}}), bearer.ErrAudience},
		{"aud an object", with(map[string]any{"aud": map[string]any{"aud": api}}), bearer.ErrAudience},
		{"sub missing", with(map[string]any{"sub": nil}), bearer.ErrSubject},
		{"sub empty", with(map[string]any{"sub": ""}), bearer.ErrSubject},
		{"sub a number", with(map[string]any{"sub": 42}), bearer.ErrSubject},
		{"sub with a newline", with(map[string]any{"sub": "auth0|alice\r\nX-Admin: 1"}), bearer.ErrSubject},
		{"sub of 256 characters", with(map[string]any{"sub": strings.Repeat("a", 256)}), bearer.ErrSubject},
		{"sub null", with(map[string]any{"sub": json.RawMessage("null")}), bearer.ErrSubject},
		{"sub spelled SUB only", with(map[string]any{"sub": nil, "SUB": "auth0|alice"}), bearer.ErrSubject},
	})
}

// TestClaims: what a verified token yields. Email only when verified and well-formed; Groups and
// Values read strings and string arrays, namespaced claims included.
func TestClaims(t *testing.T) {
	f := newFixture(t, nil)
	const roles = "https://example.com/roles"
	tests := []struct {
		name       string
		edit       func(*bearer.Options)
		override   map[string]any
		wantEmail  string
		wantGroups []string
		wantValues map[string][]string
	}{
		{"verified email", nil, nil, "alice@example.com", []string{"admins", "dev"}, nil},
		{"email_verified false", nil, map[string]any{"email_verified": false}, "", []string{"admins", "dev"}, nil},
		{"email_verified the string true", nil, map[string]any{"email_verified": "true"}, "", []string{"admins", "dev"}, nil},
		{"email_verified missing", nil, map[string]any{"email_verified": nil}, "", []string{"admins", "dev"}, nil},
		{"verified but not one bare address", nil, map[string]any{"email": "Alice <alice@example.com>"}, "", []string{"admins", "dev"}, nil},
		{"unverified, allowed by the operator", func(o *bearer.Options) { o.AllowUnverifiedEmail = true },
			map[string]any{"email_verified": false}, "alice@example.com", []string{"admins", "dev"}, nil},
		{"groups a single string", nil, map[string]any{"groups": "admins"}, "alice@example.com", []string{"admins"}, nil},
		{"groups with non-strings: none at all, as for an ID token", nil, map[string]any{"groups": []any{"admins", 7, nil, "", map[string]any{}, "dev"}},
			"alice@example.com", nil, nil},
		{"groups with an empty string", nil, map[string]any{"groups": []any{"admins", "", "dev"}},
			"alice@example.com", []string{"admins", "dev"}, nil},
		{"groups from a namespaced claim", func(o *bearer.Options) { o.GroupsClaim = "https://example.com/groups" },
			map[string]any{"https://example.com/groups": []string{"ops"}}, "alice@example.com", []string{"ops"}, nil},
		{"Auth0 permissions and namespaced roles", nil,
			map[string]any{"permissions": []string{"read:reports", "write:reports"}, roles: "editor", "https://example.com/level": 3, "mixed": []any{"a", 1}},
			"alice@example.com", []string{"admins", "dev"}, map[string][]string{
				"permissions": {"read:reports", "write:reports"}, roles: {"editor"},
				"https://example.com/level": nil, "absent": nil, "Permissions": nil,
				"mixed": nil,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := f.v
			if tt.edit != nil {
				v = f.verifier(t, tt.edit)
			}
			c, err := v.Verify(t.Context(), f.sign(t, f.a, tt.override))
			require.NoError(t, err)
			require.Equal(t, tt.wantEmail, c.Email)
			require.Equal(t, tt.wantGroups, c.Groups)
			for name, want := range tt.wantValues {
				got := c.Values([]string{name})
				require.Contains(t, got, name, "every name asked for is a key")
				require.Equal(t, want, got[name], name)
			}
			require.Nil(t, c.Values(nil))
			require.Equal(t, "auth0|alice", c.Subject)
			require.Equal(t, f.a.Issuer(), c.Issuer)
			require.True(t, f.clock.Now().Add(time.Hour).Equal(c.Expiry), c.Expiry)
			require.JSONEq(t, `"openid email"`, string(c.Raw["scope"]))
		})
	}
}
