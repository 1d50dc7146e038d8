package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// testdata of the converter, shared with its golden tests.
const o2p = "../../pkg/convert/oauth2proxy/testdata/"

// TestConvertCLI: authbridge convert oauth2-proxy writes the golden YAML, prints the notes on stderr,
// refuses (exit 1, nothing written) what is not acknowledged, and the YAML it writes passes check-config.
func TestConvertCLI(t *testing.T) {
	dir := t.TempDir()
	envFile := filepath.Join(dir, "env")
	require.NoError(t, os.WriteFile(envFile, []byte("# from the Deployment\nexport OAUTH2_PROXY_CLIENT_ID='from-env-file'\n\nOAUTH2_PROXY_EMAIL_DOMAINS=\"example.com\"\n"), 0o600))
	golden := func(name string) string {
		b, err := os.ReadFile(o2p + name + "/want.yaml")
		require.NoError(t, err)
		return string(b)
	}
	tests := []struct {
		name       string
		args       []string
		env        []string // OAUTH2_PROXY_* of this process
		code       int
		stdout     string   // exact, when set
		stderrHas  []string // substrings of stderr
		stderrNone []string
	}{
		{"help", []string{"convert", "oauth2-proxy", "--help"}, nil, 0, "", nil, nil},
		{"auth0, acknowledged", []string{"convert", "oauth2-proxy", "--config", o2p + "auth0/oauth2-proxy.cfg", "--acknowledge", "pass_access_token"}, nil, 0,
			golden("auth0"), []string{"note: cookie_name (config file): not carried over", "note: pass_access_token (config file): acknowledged"}, []string{"auth0-client-secret-value"}},
		{"auth0, not acknowledged", []string{"convert", "oauth2-proxy", "--config", o2p + "auth0/oauth2-proxy.cfg"}, nil, 1,
			"", []string{"refused: pass_access_token (config file)", "--acknowledge pass_access_token", "authbridge convert: oauth2proxy: refused: pass_access_token"}, nil},
		{"alpha config", []string{"convert", "oauth2-proxy", "--config", o2p + "alpha/oauth2-proxy.cfg", "--alpha-config", o2p + "alpha/alpha.yaml", "--acknowledge", "set_authorization_header"}, nil, 0,
			golden("alpha"), []string{"injectRequestHeaders[0] (Authorization)"}, nil},
		{"github", []string{"convert", "oauth2-proxy", "--config", o2p + "github/oauth2-proxy.cfg", "--acknowledge=email_domains"}, nil, 1,
			"", []string{"refused: provider (config file): github is not an OpenID Connect provider"}, nil},
		{"flags after --, process env, env file over it", []string{"convert", "oauth2-proxy", "--env-file", envFile, "--",
			"--provider=oidc", "--oidc-issuer-url=https://login.example.com/", "--redirect-url=https://app.example.com/oauth2/callback"},
			[]string{"OAUTH2_PROXY_CLIENT_ID=from-process", "OAUTH2_PROXY_COOKIE_NAME=_legacy"}, 0, "",
			[]string{"note: cookie_name (env OAUTH2_PROXY_COOKIE_NAME)"}, nil},
		{"no redirect URL", []string{"convert", "oauth2-proxy", "--", "--provider=oidc", "--oidc-issuer-url=https://login.example.com/", "--client-id=x", "--email-domain=example.com"}, nil, 1,
			"", []string{"refused: redirect_url (not set)", "--redirect-url"}, nil},
		{"a value authbridge refuses", []string{"convert", "oauth2-proxy", "--", "--provider=oidc", "--oidc-issuer-url=http://keycloak.internal/realms/x", "--client-id=x", "--email-domain=example.com", "--redirect-url=https://app.example.com/oauth2/callback"}, nil, 1,
			"", []string{"the converted configuration is not valid", "oidc.issuer_url"}, nil},
		{"unknown source", []string{"convert", "pomerium"}, nil, 2, "", []string{"only oauth2-proxy"}, nil},
		{"bad flag", []string{"convert", "oauth2-proxy", "--nope"}, nil, 2, "", []string{"flag provided but not defined: -nope", "Usage: authbridge convert oauth2-proxy"}, nil},
		{"missing file", []string{"convert", "oauth2-proxy", "--config", filepath.Join(dir, "absent.cfg")}, nil, 1, "", []string{"absent.cfg"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, kv := range tt.env {
				k, v, _ := strings.Cut(kv, "=")
				t.Setenv(k, v)
			}
			var out, errb bytes.Buffer
			code := runMain(context.Background(), tt.args, &out, &errb)
			require.Equal(t, tt.code, code, errb.String())
			if tt.stdout != "" {
				require.Equal(t, tt.stdout, out.String())
			}
			if tt.code != 0 {
				require.Empty(t, out.String(), "nothing is written")
			}
			for _, s := range tt.stderrHas {
				require.Contains(t, errb.String(), s)
			}
			for _, s := range tt.stderrNone {
				require.NotContains(t, errb.String()+out.String(), s)
			}
		})
	}

	t.Run("help", func(t *testing.T) {
		var out, errb bytes.Buffer
		require.Equal(t, 0, runMain(context.Background(), []string{"convert", "oauth2-proxy", "-h"}, &out, &errb))
		for _, s := range []string{"Usage: authbridge convert oauth2-proxy [flags] [-- oauth2-proxy flags]", "-acknowledge", "-alpha-config", "-env-file", "-redirect-url"} {
			require.Contains(t, out.String(), s)
		}
	})

	t.Run("the env file wins over the process", func(t *testing.T) {
		t.Setenv("OAUTH2_PROXY_CLIENT_ID", "from-process")
		var out, errb bytes.Buffer
		require.Equal(t, 0, runMain(context.Background(), []string{"convert", "oauth2-proxy", "--env-file", envFile, "--",
			"--provider=oidc", "--oidc-issuer-url=https://login.example.com/", "--redirect-url=https://app.example.com/oauth2/callback"}, &out, &errb), errb.String())
		require.Contains(t, out.String(), "client_id: from-env-file")
	})

	t.Run("the written file passes check-config", func(t *testing.T) {
		path := filepath.Join(dir, "authbridge.yaml")
		var out, errb bytes.Buffer
		require.Equal(t, 0, runMain(context.Background(), []string{"convert", "oauth2-proxy", "-o", path, "--",
			"--provider=keycloak-oidc", "--oidc-issuer-url=https://sso.example.com/realms/acme", "--client-id=portal",
			"--redirect-url=https://portal.example.com/oauth2/callback", "--email-domain=example.com", "--whitelist-domain=.example.com"}, &out, &errb), errb.String())
		require.Empty(t, out.String())
		require.Contains(t, errb.String(), "wrote "+path)
		out.Reset()
		errb.Reset()
		require.Equal(t, 0, runMain(context.Background(), []string{"check-config", "--config", path}, &out, &errb), errb.String())
		require.Contains(t, out.String(), "configuration OK: issuer https://sso.example.com/realms/acme, client portal, store memory")
	})
}
