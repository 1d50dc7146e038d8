package authz

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPolicyParsesEmailStrictly checks the policy on its own, for sessions whose address never went
// through today's ID-token check (stored by an older release): a malformed address matches no domain.
func TestPolicyParsesEmailStrictly(t *testing.T) {
	p := compileRule(Rule{EmailDomains: []string{"example.com"}})
	tests := []struct {
		email string
		ok    bool
	}{
		{"alice@example.com", true},
		{"alice@Example.COM", true},
		{"mallory@evil.com@example.com", false},
		{`"Mallory" <m@example.com>`, false},
		{"m@example.com ", false},
		{"m@example.com.evil.com", false},
		{"m@sub.example.com", false},
		{"@example.com", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.email, func(t *testing.T) {
			reason := p.refuse(&Identity{Email: tt.email})
			if tt.ok {
				require.Empty(t, reason)
			} else {
				require.Equal(t, "email domain not allowed", reason)
			}
		})
	}
}
