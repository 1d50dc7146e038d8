package authz_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/enginetest"
)

// TestUpstreamCookie: the upstream's Cookie header never carries authbridge's own cookies, whatever the
// spacing, and is left untouched (no allocation) when there are none.
func TestUpstreamCookie(t *testing.T) {
	e := enginetest.New(t, enginetest.Options{}).Engine
	tests := []struct {
		in, want string
		changed  bool
	}{
		{"a=1; b=2", "a=1; b=2", false},
		{"authbridge=x", "", true},
		{"a=1; authbridge=x; b=2", "a=1; b=2", true},
		{"authbridge=x;a=1;;  authbridge-login=y ; b=2", "a=1; b=2", true},
		{"xauthbridge=1; authbridge-loginx=2", "xauthbridge=1; authbridge-loginx=2", false},
		{"a=1; authbridge-login-AbCd1234=y; authbridge-login-x_Yz9876=z", "a=1", true}, // one per login in progress
		{"", "", false},
		{"authbridge=x; authbridge=y", "", true},
		{" authbridge=x", "", true},
		{"a=1;authbridge=\"x\"", "a=1", true},
	}
	for _, tt := range tests {
		got, changed := e.UpstreamCookie(tt.in)
		require.Equal(t, tt.changed, changed, tt.in)
		require.Equal(t, tt.want, got, tt.in)
	}
}
