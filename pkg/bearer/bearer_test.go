package bearer_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/pkg/bearer"
)

// TestNewOptions: New refuses options that cannot verify anything, naming every problem.
func TestNewOptions(t *testing.T) {
	tests := []struct {
		name    string
		o       bearer.Options
		wantErr string
	}{
		{"valid", bearer.Options{Issuers: []string{"https://tenant.auth0.com/"}, Audiences: []string{"https://api"}}, ""},
		{"no issuer", bearer.Options{Audiences: []string{"https://api"}}, "no issuer"},
		{"relative issuer", bearer.Options{Issuers: []string{"tenant.auth0.com"}, Audiences: []string{"https://api"}}, "not an absolute"},
		{"no audience", bearer.Options{Issuers: []string{"https://tenant.auth0.com/"}}, "no audience"},
		{"empty audience", bearer.Options{Issuers: []string{"https://tenant.auth0.com/"}, Audiences: []string{""}}, "no audience"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := bearer.New(tt.o)
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.NotNil(t, v)
				return
			}
			require.ErrorIs(t, err, bearer.ErrInvalidOptions)
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

// TestDescription: each reason has its own error_description; an outage and foreign errors get none.
func TestDescription(t *testing.T) {
	reasons := []error{
		bearer.ErrTooLarge, bearer.ErrMalformed, bearer.ErrAlgorithm, bearer.ErrType, bearer.ErrIssuer,
		bearer.ErrSignature, bearer.ErrNoExpiry, bearer.ErrExpired, bearer.ErrNotYetValid, bearer.ErrIssuedAt,
		bearer.ErrAudience, bearer.ErrSubject,
	}
	seen := map[string]bool{}
	for _, r := range reasons {
		d := bearer.Description(fmt.Errorf("%w: %w: detail", bearer.ErrInvalidToken, r))
		require.NotEmpty(t, d, r)
		require.False(t, seen[d], "two reasons share %q", d)
		seen[d] = true
		for _, c := range d { // RFC 6750 3: %x20-21 / %x23-5B / %x5D-7E
			require.True(t, c == 0x20 || c == 0x21 || c >= 0x23 && c <= 0x5b || c >= 0x5d && c <= 0x7e, "%q in %q", c, d)
		}
		require.Empty(t, bearer.Description(r), "a reason alone is not a refusal")
	}
	require.Equal(t, "The token is invalid", bearer.Description(bearer.ErrInvalidToken))
	require.Empty(t, bearer.Description(fmt.Errorf("%w: down", bearer.ErrUnavailable)))
	require.Empty(t, bearer.Description(errors.New("other")))
	require.Empty(t, bearer.Description(nil))
}
