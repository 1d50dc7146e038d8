package e2e_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// caddyGlobal goes before the shipped Caddyfile: process settings of the test run, not of the site (no
// admin endpoint to collide on, listeners on loopback only).
const caddyGlobal = "{\n\tadmin off\n\tdefault_bind 127.0.0.1\n}\n\n"

// startCaddy runs Debian's Caddy with deploy/caddy/Caddyfile on port, asking authbridge's forward-auth
// listener at abForwardAuth and proxying to the upstream at upAddr.
func startCaddy(t *testing.T, port int, abForwardAuth, upAddr string) {
	t.Helper()
	requireProgram(t, "caddy")
	dir := t.TempDir()
	conf := caddyGlobal + shipped(t, "caddy/Caddyfile",
		"app.example.com {", "http://127.0.0.1:"+strconv.Itoa(port)+" {",
		"authbridge:4181", abForwardAuth,
		"api:8080", upAddr)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Caddyfile"), []byte(conf), 0o644))
	p, err := startProcess("caddy", dir, baseEnv(dir), "caddy", "run", "--config", "Caddyfile", "--adapter", "caddyfile")
	require.NoError(t, err)
	t.Cleanup(p.stop)
	require.NoError(t, p.waitReady(func() error { return dialable("127.0.0.1:" + strconv.Itoa(port)) }))
}

func TestCaddy(t *testing.T) {
	t.Parallel()
	s := sharedStack(t)
	up := startUpstream(t)
	port, err := freePort()
	require.NoError(t, err)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	ab := startAuthbridge(t, s, base)
	startCaddy(t, port, ab.forwardAuth, up.addr)
	g := gatewayUnderTest{base: base, up: up, ab: ab, spoofs: forgedAll()}

	runGatewayFlow(t, s, g)

	t.Run("navigation without session is sent to the provider", func(t *testing.T) {
		resp, _ := g.get(t, "/deep/link?a=1&b=2", http.Header{"Accept": {"text/html"}, "Authorization": {"Bearer forged"}}, "")
		require.Equal(t, http.StatusFound, resp.StatusCode)
		require.Contains(t, resp.Header.Get("Location"), s.hydra.issuer+"/oauth2/auth?")
		require.Len(t, resp.Header.Values("Set-Cookie"), 1, "the pre-auth cookie that binds the login to this browser")
	})
}
