package e2e_test

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// cookieName is authbridge's session cookie when session.cookie.secure is false, as here: the tests
// run on plain http, and browsers refuse a __Host- cookie without Secure.
const cookieName = "authbridge"

// authbridge is one `authbridge serve` process.
type authbridge struct {
	http, forwardAuth, grpc, admin string // host:port of each listener
	clientID                       string
	proc                           *process
}

// startAuthbridge registers a client at Hydra for an app at base (http://127.0.0.1:port, its callback
// on the same gateway) and runs authbridge for it, stopped when the test ends. extra is appended to the
// configuration file (top-level sections such as policy:).
func startAuthbridge(t *testing.T, s *stack, base string, extra ...string) *authbridge {
	t.Helper()
	id, secret, err := s.hydra.newClient(base)
	require.NoError(t, err)
	dir := t.TempDir()
	for attempt := 0; ; attempt++ {
		ports, err := freePorts(4)
		require.NoError(t, err)
		ab := &authbridge{clientID: id}
		ab.http, ab.grpc, ab.admin = "127.0.0.1:"+strconv.Itoa(ports[0]), "127.0.0.1:"+strconv.Itoa(ports[1]),
			"127.0.0.1:"+strconv.Itoa(ports[2])
		ab.forwardAuth = "127.0.0.1:" + strconv.Itoa(ports[3])
		cfg := fmt.Sprintf(`oidc:
  issuer_url: %s
  client_id: %s
  client_secret_file: %s
  redirect_url: %s/oauth2/callback
  # Hydra keeps its state in SQLite here and waits up to 10 s on a locked database while the parallel
  # tests log in (its _busy_timeout): give each provider call more than that, so that a busy test
  # machine is not read as a provider outage (503).
  timeout: 20s
session:
  redis:
    url: %s
  cookie:
    secure: false
    secret_file: %s
redirect:
  allowed_domains: [127.0.0.1]
listen:
  http: %s
  forward_auth: %s
  grpc: %s
  admin: %s
log:
  level: debug
  format: text
`, s.hydra.issuer, id, filepath.Join(dir, "client-secret"), base, s.redisURL, filepath.Join(dir, "cookie-secret"),
			ab.http, ab.forwardAuth, ab.grpc, ab.admin)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "client-secret"), []byte(secret+"\n"), 0o600))
		cookieSecret := rand.Text() + rand.Text()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "cookie-secret"), []byte(cookieSecret+"\n"), 0o600))
		for _, e := range extra {
			cfg += e
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, "authbridge.yaml"), []byte(cfg), 0o600))
		ab.proc, err = startProcess("authbridge", dir, baseEnv(dir), s.authbridge, "serve", "--config", "authbridge.yaml")
		require.NoError(t, err)
		err = ab.proc.waitReady(func() error { return wantStatus("http://"+ab.admin+"/readyz", http.StatusOK) })
		if err == nil {
			secretsSeen.Add("client secret", secret)
			secretsSeen.Add("cookie secret", cookieSecret)
			proc := ab.proc
			t.Cleanup(func() { checkLog(t, proc) }) // registered first, so it runs after the stop below
			t.Cleanup(ab.proc.stop)
			t.Cleanup(func() {
				// authbridge's own log never holds a token, cookie or code: safe to show on a failure.
				if t.Failed() {
					t.Log(ab.proc.logTail())
				}
			})
			return ab
		}
		ab.proc.stop()
		if attempt == 2 {
			t.Fatal(err)
		}
	}
}

// wantStatus GETs url and fails unless the answer has status want.
func wantStatus(url string, want int) error {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != want {
		return fmt.Errorf("GET %s: status %d, want %d", url, resp.StatusCode, want)
	}
	return nil
}
