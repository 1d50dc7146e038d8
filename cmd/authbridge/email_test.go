package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestServeUnverifiedEmail: serve hands oidc.allow_unverified_email to login. An address the provider
// has not verified reaches the upstream only when the key is set.
func TestServeUnverifiedEmail(t *testing.T) {
	tests := []struct {
		name      string
		env       []string
		wantEmail string
	}{
		{"default: not used", nil, ""},
		{"allowed explicitly", []string{"AUTHBRIDGE_OIDC_ALLOW_UNVERIFIED_EMAIL=true"}, "alice@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inst := start(t, time.Hour, tt.env...)
			inst.idp.SetEmailVerified("alice", false)
			_, cookie := browserLogin(t, inst)
			resp := traefikAuth(t, inst, cookie, "text/html")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Equal(t, []string{tt.wantEmail}, resp.Header.Values("X-Auth-Request-Email"))
			require.NotContains(t, inst.logs.String(), "alice@example.com", "the address is never logged")
		})
	}
}
