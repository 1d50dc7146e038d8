package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
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
		{"version", []string{"version"}, 0, []string{"authbridge dev revision ", " built ", runtime.Version()}, nil, ""},
		{"serve --help", []string{"serve", "--help"}, 0, []string{"Usage: authbridge serve [flags]", "Run the gRPC", "-config", "README.md"}, nil, ""},
		{"check-config -h", []string{"check-config", "-h"}, 0, []string{"Usage: authbridge check-config [flags]", "-config"}, nil, ""},
		{"explain --help", []string{"explain", "--help"}, 0, []string{"Usage: authbridge explain [flags]", "-url", "-claims"}, nil, ""},
		{"bad flag: message and usage on stderr", []string{"serve", "--bogus"}, 2, nil, []string{"flag provided but not defined: -bogus", "Usage: authbridge serve"}, ""},
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

// TestREADMEListsEveryKey keeps the README's configuration reference a rendering of config.Reference,
// whose help comes from the Config fields' doc tags: one text per key, copied here, never rewritten.
func TestREADMEListsEveryKey(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	for _, k := range config.Reference() {
		row := fmt.Sprintf("| `%s` | `%s` | %s | %s |", k.Key, k.Env, k.Default, k.Doc)
		require.Contains(t, string(b), row+"\n", "README.md's row for %s differs from config.Reference; it should be\n%s", k.Key, row)
	}
}

// TestCheckConfigWithServiceLinks: a pod in a namespace with a Service named authbridge gets the
// kubelet's service-link variables; check-config accepts them and still refuses any other unknown
// AUTHBRIDGE_* variable.
func TestCheckConfigWithServiceLinks(t *testing.T) {
	for _, kv := range []string{
		"AUTHBRIDGE_OIDC_ISSUER_URL=https://tenant.auth0.com/",
		"AUTHBRIDGE_OIDC_CLIENT_ID=abc",
		"AUTHBRIDGE_OIDC_REDIRECT_URL=https://auth.example.com/oauth2/callback",
		"AUTHBRIDGE_SESSION_REDIS_URL=redis://127.0.0.1:6379",
		"AUTHBRIDGE_SESSION_COOKIE_SECRET=0123456789abcdef0123456789abcdef",
		"AUTHBRIDGE_SERVICE_HOST=10.96.12.34",
		"AUTHBRIDGE_SERVICE_PORT=4180",
		"AUTHBRIDGE_SERVICE_PORT_HTTP=4180",
		"AUTHBRIDGE_SERVICE_PORT_GRPC=9191",
		"AUTHBRIDGE_PORT=tcp://10.96.12.34:4180",
		"AUTHBRIDGE_PORT_4180_TCP=tcp://10.96.12.34:4180",
		"AUTHBRIDGE_PORT_4180_TCP_PROTO=tcp",
		"AUTHBRIDGE_PORT_4180_TCP_PORT=4180",
		"AUTHBRIDGE_PORT_4180_TCP_ADDR=10.96.12.34",
		"AUTHBRIDGE_PORT_9191_TCP=tcp://10.96.12.34:9191",
		"AUTHBRIDGE_PORT_9191_TCP_PROTO=tcp",
		"AUTHBRIDGE_PORT_9191_TCP_PORT=9191",
		"AUTHBRIDGE_PORT_9191_TCP_ADDR=10.96.12.34",
	} {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	var out, errb bytes.Buffer
	require.Equal(t, 0, runMain(context.Background(), []string{"check-config"}, &out, &errb), errb.String())
	require.Contains(t, out.String(), "configuration OK")
	require.Contains(t, out.String(), "ignored 13 Kubernetes service link variables: ")
	require.Contains(t, out.String(), "AUTHBRIDGE_PORT_9191_TCP_ADDR")
	require.NotContains(t, out.String(), "10.96.12.34", "names only")

	for _, kv := range []string{"AUTHBRIDGE_PORTS=1", "AUTHBRIDGE_SERVICE_HOSTNAME=10.96.12.34", "AUTHBRIDGE_PORT=8080"} {
		t.Run(kv, func(t *testing.T) {
			k, v, _ := strings.Cut(kv, "=")
			t.Setenv(k, v)
			var out, errb bytes.Buffer
			require.Equal(t, 1, runMain(context.Background(), []string{"check-config"}, &out, &errb))
			require.Contains(t, errb.String(), "environment variable "+k+" matches no key")
		})
	}
}
