package e2e_test

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/browsertest"
)

// shipped reads a file under deploy/ and replaces each placeholder, requiring that it is there: the test
// runs the shipped file with its addresses and ports substituted and nothing else changed.
func shipped(t *testing.T, path string, replace ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "deploy", path))
	require.NoError(t, err)
	s := string(b)
	for i := 0; i+1 < len(replace); i += 2 {
		require.Contains(t, s, replace[i], "placeholder %q in deploy/%s", replace[i], path)
		s = strings.ReplaceAll(s, replace[i], replace[i+1])
	}
	return s
}

// nginxMain is the main configuration around the shipped server config: everything nginx writes goes to
// the test's directory.
const nginxMain = `worker_processes 1;
pid %[1]s/nginx.pid;
events { worker_connections 128; }
http {
    access_log %[1]s/access.log;
    client_body_temp_path %[1]s/client_body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    include %[1]s/authbridge.conf;
}
`

// startNginx runs Debian's nginx with deploy/nginx/authbridge.conf on port, asking authbridge (its
// browser-facing and forward-auth listeners) and proxying to the upstream at upAddr.
func startNginx(t *testing.T, port int, ab *authbridge, upAddr string) {
	t.Helper()
	runNginx(t, port, shipped(t, "nginx/authbridge.conf",
		"listen 80;", "listen 127.0.0.1:"+strconv.Itoa(port)+";",
		"http://authbridge:4180", "http://"+ab.http,
		"http://authbridge:4181", "http://"+ab.forwardAuth,
		"http://api:8080", "http://"+upAddr))
}

// runNginx runs Debian's nginx with conf (a shipped file, addresses substituted) as its one server
// file, until the test ends, and waits for it to listen on port.
func runNginx(t *testing.T, port int, conf string) {
	t.Helper()
	requireProgram(t, "nginx")
	bin, err := lookProgram("nginx")
	require.NoError(t, err)
	// Not t.TempDir: nginx's workers run as nobody and must reach their temp paths.
	dir, err := os.MkdirTemp("", "authbridge-nginx-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "authbridge.conf"), []byte(conf), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(fmt.Sprintf(nginxMain, dir)), 0o644))
	p, err := startProcess("nginx", dir, baseEnv(dir), bin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"),
		"-e", filepath.Join(dir, "error.log"), "-g", "daemon off;")
	require.NoError(t, err)
	t.Cleanup(p.stop)
	require.NoError(t, p.waitReady(func() error { return dialable("127.0.0.1:" + strconv.Itoa(port)) }))
}

// lookProgram finds a program on PATH or in /usr/sbin, where Debian puts nginx.
func lookProgram(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return exec.LookPath(filepath.Join("/usr/sbin", name))
}

func TestNginx(t *testing.T) {
	t.Parallel()
	s := sharedStack(t)
	up := startUpstream(t)
	port, err := freePort()
	require.NoError(t, err)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	ab := startAuthbridge(t, s, base)
	startNginx(t, port, ab, up.addr)
	g := gatewayUnderTest{base: base, up: up, ab: ab, spoofs: forgedNamed()}

	runGatewayFlow(t, s, g)

	t.Run("the page asks who is logged in", func(t *testing.T) {
		// What an SPA does instead of reading a token: fetch('/oauth2/userinfo'), which the shipped
		// config routes to the browser-facing listener with the rest of /oauth2/.
		ctx := newTab(t, s.browser)
		logIn(t, ctx, s, base, "/who", "alice")
		req, ok := up.last("/who")
		require.True(t, ok)
		token := requireIdentity(t, s, ab, req.Header, "alice")
		type answer struct {
			fetchAnswer
			Cache, ACAO string
		}
		a := browsertest.Val(t, ctx, chromedp.Evaluate[answer](`fetch('/oauth2/userinfo', {headers: {Accept: 'application/json'}})
			.then(r => r.text().then(body => ({status: r.status, type: r.headers.get('content-type'),
				cache: r.headers.get('cache-control'), acao: r.headers.get('access-control-allow-origin') || '', body})))`, chromedp.EvalAwaitPromise))
		require.Equal(t, http.StatusOK, a.Status, a.Body)
		require.Equal(t, "application/json", a.Type)
		require.Equal(t, "no-store", a.Cache)
		require.Empty(t, a.ACAO)
		require.JSONEq(t, `{"user":"alice","email":"alice@example.com","preferredUsername":"alice"}`, a.Body)
		require.False(t, strings.Contains(a.Body, token), "never a token")

		none := fetchWithoutSession(t, ctx, "/oauth2/userinfo")
		require.Equal(t, http.StatusUnauthorized, none.Status)
		require.Equal(t, "application/json", none.Type)
		require.Contains(t, none.Body, `"error":"unauthenticated"`)
	})

	t.Run("the session check is internal", func(t *testing.T) {
		// /oauth2/auth answers with the access token: a script that could call it would read the token.
		for _, uri := range []string{"/oauth2/auth", "/oauth2//auth", "/oauth2/%61uth"} {
			resp, _ := g.get(t, uri, nil, "")
			require.Equal(t, http.StatusNotFound, resp.StatusCode, uri)
			require.Empty(t, resp.Header.Values("Authorization"), uri)
		}
	})

	t.Run("a client's X-Forwarded-* never describe the request", func(t *testing.T) {
		// Review: a client's X-Forwarded-Uri and -Method were believed over X-Original-URL. The shipped
		// config clears them (authbridge would refuse the contradiction: 400, a 500 from nginx), so the
		// check is about the request the client really sent.
		const uri = "/nginx-spoof-check?x=1"
		resp, _ := g.get(t, uri, http.Header{"Accept": {"application/json"}, "X-Forwarded-Uri": {"/spoofed"},
			"X-Forwarded-Method": {"DELETE"}, "X-Forwarded-Host": {"evil.test"}, "X-Forwarded-Proto": {"javascript"}}, "")
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		var decided string
		for _, line := range strings.Split(ab.proc.log(), "\n") {
			if strings.Contains(line, "msg=decided") && strings.Contains(line, "nginx-spoof-check") {
				decided = line
			}
		}
		require.Contains(t, decided, " method=GET ", "authbridge decided about the request as sent")
		require.Contains(t, decided, " path=/nginx-spoof-check ")
		require.NotContains(t, ab.proc.log(), "evil.test")
		require.NotContains(t, ab.proc.log(), "/spoofed")
	})

	t.Run("navigation without session is sent to log in", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			h    http.Header
		}{
			{"fetch metadata", http.Header{"Sec-Fetch-Mode": {"navigate"}, "Accept": {"*/*"}}},
			{"accept only", http.Header{"Accept": {"text/html,application/xhtml+xml,*/*;q=0.8"}}},
		} {
			resp, _ := g.get(t, "/deep/link?a=1", tc.h, "")
			require.Equal(t, http.StatusFound, resp.StatusCode, tc.name)
			require.Equal(t, base+"/oauth2/start?rd=/deep/link?a=1", resp.Header.Get("Location"), tc.name)
		}
		resp, _ := g.get(t, "/oauth2/start?rd=/deep/link", http.Header{"Accept": {"text/html"}}, "")
		require.Equal(t, http.StatusFound, resp.StatusCode)
		require.True(t, strings.HasPrefix(resp.Header.Get("Location"), s.hydra.issuer+"/oauth2/auth?"), resp.Header.Get("Location"))
	})
}
