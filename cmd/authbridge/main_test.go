package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/pkg/config"
)

func TestRunMainCommands(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	good := write("good.yaml", `
oidc:
  issuer_url: https://tenant.auth0.com/
  client_id: abc
  client_secret: super-secret-value
  redirect_url: https://auth.example.com/oauth2/callback
session:
  redis:
    url: redis://127.0.0.1:6379
  cookie:
    secret: cookie-secret-value-of-32-characters
`)
	deprecated := write("deprecated.yaml", `
oidc:
  issuer_url: https://tenant.auth0.com/
  client_id: abc
  redirect_url: https://auth.example.com/oauth2/callback
session:
  store: memory
  logins_per_client: 100
`)
	noKey := write("nokey.yaml", `
oidc:
  issuer_url: https://tenant.auth0.com/
  client_id: abc
  redirect_url: https://auth.example.com/oauth2/callback
session:
  redis:
    url: redis://127.0.0.1:6379
`)
	bad := write("bad.yaml", `
oidc:
  issuer_url: ftp://tenant.auth0.com/
  client_secret: super-secret-value
  redirect_url: /relative
session:
  cookie:
    nmae: x
`)
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantOut    []string
		wantErr    []string
		notInError string
	}{
		{"version", []string{"version"}, 0, []string{"authbridge dev"}, nil, ""},
		{"no command", nil, 2, nil, []string{"Usage:"}, ""},
		{"unknown command", []string{"frobnicate"}, 2, nil, []string{`unknown command "frobnicate"`}, ""},
		{"check-config ok", []string{"check-config", "--config", good}, 0, []string{"configuration OK", "https://tenant.auth0.com/"}, nil, ""},
		{"check-config names every problem", []string{"check-config", "--config", bad}, 1, nil,
			[]string{"oidc.issuer_url", "oidc.client_id", "oidc.redirect_url", "session.cookie.nmae"}, "super-secret-value"},
		{"check-config warns about a deprecated key", []string{"check-config", "--config", deprecated}, 0, []string{"configuration OK"},
			[]string{"warning: session.logins_per_client is deprecated and ignored"}, ""},
		{"redis needs a cookie secret", []string{"check-config", "--config", noKey}, 1, nil,
			[]string{"session.cookie.secret: required when session.store is redis"}, ""},
		{"missing file", []string{"check-config", "--config", filepath.Join(dir, "nope.yaml")}, 1, nil, []string{"nope.yaml"}, ""},
		{"serve with bad config does not start", []string{"serve", "--config", bad}, 1, nil, []string{"oidc.issuer_url"}, "super-secret-value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := runMain(context.Background(), tt.args, &out, &errb)
			require.Equal(t, tt.wantCode, code, errb.String())
			for _, w := range tt.wantOut {
				require.Contains(t, out.String(), w)
			}
			for _, w := range tt.wantErr {
				require.Contains(t, errb.String(), w)
			}
			if tt.notInError != "" {
				require.NotContains(t, errb.String()+out.String(), tt.notInError)
			}
		})
	}
}

// TestREADMEListsEveryKey keeps the README's configuration reference complete.
func TestREADMEListsEveryKey(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	for _, k := range config.Reference() {
		require.Contains(t, string(b), "| `"+k.Key+"` | `"+k.Env+"` |", "README.md lacks %s", k.Key)
	}
}
