package oauth2proxy_test

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/pkg/config"
	"github.com/authbridge/authbridge/pkg/convert/oauth2proxy"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// input reads a testdata case: oauth2-proxy.cfg, alpha.yaml, env (KEY=VALUE lines), args (one flag a
// line), acknowledge (one option a line) and redirect_url, each optional.
func input(t *testing.T, dir string) oauth2proxy.Input {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		require.NoError(t, err)
		return b
	}
	return oauth2proxy.Input{
		ConfigFile:   read("oauth2-proxy.cfg"),
		AlphaConfig:  read("alpha.yaml"),
		Env:          lines(read("env")),
		Args:         lines(read("args")),
		Acknowledged: lines(read("acknowledge")),
		RedirectURL:  strings.TrimSpace(string(read("redirect_url"))),
	}
}

func lines(b []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// report is what the CLI prints on stderr: every note, then the error.
func report(res *oauth2proxy.Result, err error) string {
	var b strings.Builder
	if res != nil {
		for _, n := range res.Notes {
			b.WriteString(n.String() + "\n")
		}
	}
	if err != nil {
		b.WriteString("error: " + err.Error() + "\n")
	}
	return b.String()
}

// TestGolden converts each real-world oauth2-proxy configuration under testdata/ and compares the YAML
// (want.yaml, absent when the conversion is refused) and the notes (want.txt) with the golden files.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(dirs), 9)
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			res, err := oauth2proxy.Convert(input(t, dir))
			if err != nil {
				require.ErrorIs(t, err, oauth2proxy.ErrRefused)
			}
			var gotYAML []byte
			if err == nil {
				gotYAML = res.YAML
			}
			golden(t, filepath.Join(dir, "want.yaml"), gotYAML)
			golden(t, filepath.Join(dir, "want.txt"), []byte(report(res, err)))
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if got == nil {
			require.NoError(t, os.RemoveAll(path))
			return
		}
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	if got == nil {
		require.ErrorIs(t, err, os.ErrNotExist, "%s should not exist", path)
		return
	}
	require.NoError(t, err)
	require.Equal(t, string(want), string(got), path)
}

// TestGoldenLoads: every golden output is a valid authbridge configuration (pkg/config's Load, strict
// keys and Validate, as check-config runs it), once the secrets the notes ask for are supplied the way
// a deployment does: in the environment, and as mounted files where the output names a file.
func TestGoldenLoads(t *testing.T) {
	files, err := filepath.Glob("testdata/*/want.yaml")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 6)
	secret := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(secret, []byte("a-mounted-secret\n"), 0o600))
	for _, f := range files {
		t.Run(filepath.Base(filepath.Dir(f)), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			require.NoError(t, err)
			env := []string{"AUTHBRIDGE_SESSION_COOKIE_SECRET=" + strings.Repeat("k", 32)}
			if bytes.Contains(raw, []byte("client_secret_file:")) {
				env = append(env, "AUTHBRIDGE_OIDC_CLIENT_SECRET_FILE="+secret)
			}
			c, err := config.Load(f, env)
			require.NoError(t, err)
			require.NotEmpty(t, c.OIDC.IssuerURL)
			require.NotContains(t, string(raw), "secret-value", "no secret from the input is written")
			require.NotContains(t, string(raw), "password")
		})
	}
}

// TestTableNamesRealKeys: every authbridge key the table maps to is a key of pkg/config.
func TestTableNamesRealKeys(t *testing.T) {
	keys := map[string]bool{}
	for _, k := range config.Reference() {
		keys[k.Key] = true
	}
	seen := map[string]bool{}
	for _, o := range oauth2proxy.Table() {
		require.False(t, seen[o.Name], "%s listed twice", o.Name)
		seen[o.Name] = true
		require.Regexp(t, `^[a-z0-9_]+$`, o.Name)
		require.Regexp(t, `^[a-z0-9-]+$`, o.Flag)
		require.Equal(t, "OAUTH2_PROXY_"+strings.ToUpper(o.Name), o.Env())
		if o.Key != "" && o.Key != "policy.routes" {
			require.True(t, keys[o.Key], "%s maps to %s, which is no authbridge key", o.Name, o.Key)
		}
		require.True(t, o.Key != "" || o.Advice != "", "%s has neither a key nor advice", o.Name)
	}
}
