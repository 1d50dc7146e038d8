package e2e_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// twoAppsTestPolicy is deploy/policy/two-apps.yaml as the end-to-end tests can run it: Hydra's users
// have no groups, so the admin app is for alice's verified address; the app's host is 127.0.0.1. The
// admin route has no host: it is selected only by the name the gateway passes, so bob's 403 proves the
// name got through.
const twoAppsTestPolicy = `policy:
  routes:
    - name: admin
      emails: [alice@example.com]
    - name: static
      host: 127.0.0.1
      path: /static/
      public: true
`

// twoApps is a gateway in front of two apps: the app at base (127.0.0.1), and the admin app on the same
// port under the host name admin.example.com.
type twoApps struct {
	gatewayUnderTest
	admin     *upstream
	adminHost string // the Host header that reaches the admin app
}

// getAs sends a GET for uri to host on the gateway, with headers and an optional session cookie.
func (g twoApps) getAs(t *testing.T, host, uri string, h http.Header, session string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, g.base+uri, nil)
	require.NoError(t, err)
	req.Host = host
	for k, vs := range h {
		req.Header[k] = vs
	}
	if session != "" {
		req.AddCookie(&http.Cookie{Name: cookieName, Value: session})
	}
	resp, err := noRedirects.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp
}

// runTwoApps: the public path needs no login and passes no identity; the admin app takes alice (by the
// route the gateway names) and refuses bob with 403; the app itself takes both.
func runTwoApps(t *testing.T, s *stack, g twoApps) {
	forgedAuth := http.Header{"Authorization": {"Bearer forged"}, "X-Auth-Request-User": {"admin"}}
	t.Run("public path without login", func(t *testing.T) {
		for _, accept := range []string{"text/html", "application/json"} {
			h := http.Header{"Accept": {accept}}
			for k, v := range forgedAuth {
				h[k] = v
			}
			resp, _ := g.get(t, "/static/app.js?accept="+accept, h, "")
			require.Equal(t, http.StatusOK, resp.StatusCode, accept)
			req, ok := g.up.last("/static/app.js?accept=" + accept)
			require.True(t, ok)
			for _, k := range []string{"Authorization", "X-Auth-Request-User", "X-Auth-Request-Email"} {
				for _, v := range headerValues(req.Header, k) {
					require.Empty(t, v, "%s reaches the app of a public path", k)
				}
			}
		}
	})
	t.Run("the client's query names no route", func(t *testing.T) {
		// ?route= in the client's URL must not select the public route (Caddy passes a client's query to
		// the auth address when that has none of its own; authbridge refuses it, and the shipped configs
		// give theirs one).
		n := g.up.count()
		for _, uri := range []string{"/private?route=static", "/private?x=1&route=static", "/static/../private?route=static"} {
			resp, body := g.get(t, uri, http.Header{"Accept": {"application/json"}}, "")
			require.NotEqual(t, http.StatusOK, resp.StatusCode, "%s: %s", uri, body)
		}
		require.Equal(t, n, g.up.count(), "the app is not asked")
	})
	t.Run("beside the public path a login is needed", func(t *testing.T) {
		resp, _ := g.get(t, "/staticx", http.Header{"Accept": {"application/json"}}, "")
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	})

	alice, bob := logInAs(t, s, g.base, "alice"), logInAs(t, s, g.base, "bob")
	t.Run("admin app: alice is allowed", func(t *testing.T) {
		resp := g.getAs(t, g.adminHost, "/dashboard", http.Header{"Accept": {"application/json"}}, alice)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		req, ok := g.admin.last("/dashboard")
		require.True(t, ok, "the admin app got the request")
		requireIdentity(t, s, g.ab, req.Header, "alice")
	})
	t.Run("admin app: bob is refused", func(t *testing.T) {
		n := g.admin.count()
		resp := g.getAs(t, g.adminHost, "/dashboard", http.Header{"Accept": {"application/json"}}, bob)
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		resp = g.getAs(t, g.adminHost, "/dashboard", http.Header{"Accept": {"application/json"}}, "")
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		require.Equal(t, n, g.admin.count(), "the admin app is not asked")
	})
	t.Run("the app takes both", func(t *testing.T) {
		for _, cookie := range []string{alice, bob} {
			status, _, err := sessionAnswer(g.gatewayUnderTest, cookie, "application/json")
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, status)
		}
	})
}

// logInAs logs user in through the app in a browser of its own and returns the session cookie's value.
func logInAs(t *testing.T, s *stack, base, user string) string {
	t.Helper()
	tab := newTab(t, s.browser)
	logIn(t, tab, s, base, "/"+user, user)
	c := sessionCookie(t, tab, base)
	require.NotNil(t, c, "the browser holds the session cookie")
	return c.Value
}

func TestNginxTwoApps(t *testing.T) {
	t.Parallel()
	requireProgram(t, "nginx")
	s := sharedStack(t)
	app, admin := startUpstream(t), startUpstream(t)
	port, err := freePort()
	require.NoError(t, err)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	ab := startAuthbridge(t, s, base, twoAppsTestPolicy)
	runNginx(t, port, shipped(t, "nginx/two-apps.conf",
		"listen 80;", "listen 127.0.0.1:"+strconv.Itoa(port)+";",
		"server_name app.example.com;", "server_name app.example.com 127.0.0.1;",
		"http://authbridge:4180", "http://"+ab.http,
		"http://authbridge:4181", "http://"+ab.forwardAuth,
		"http://admin:8080", "http://"+admin.addr,
		"http://app:8080", "http://"+app.addr))

	runTwoApps(t, s, twoApps{gatewayUnderTest: gatewayUnderTest{base: base, up: app, ab: ab}, admin: admin, adminHost: "admin.example.com"})
}

func TestCaddyTwoApps(t *testing.T) {
	t.Parallel()
	requireProgram(t, "caddy")
	s := sharedStack(t)
	app, admin := startUpstream(t), startUpstream(t)
	port, err := freePort()
	require.NoError(t, err)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	ab := startAuthbridge(t, s, base, twoAppsTestPolicy)
	dir := t.TempDir()
	adminHost := "admin.example.com:" + strconv.Itoa(port)
	conf := caddyGlobal + shipped(t, "caddy/Caddyfile.two-apps",
		"admin.example.com {", "http://"+adminHost+" {",
		"app.example.com {", base+" {",
		"authbridge:4181", ab.forwardAuth,
		"admin:8080", admin.addr,
		"app:8080", app.addr)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Caddyfile"), []byte(conf), 0o644))
	p, err := startProcess("caddy", dir, baseEnv(dir), "caddy", "run", "--config", "Caddyfile", "--adapter", "caddyfile")
	require.NoError(t, err)
	t.Cleanup(p.stop)
	require.NoError(t, p.waitReady(func() error { return dialable("127.0.0.1:" + strconv.Itoa(port)) }))

	runTwoApps(t, s, twoApps{gatewayUnderTest: gatewayUnderTest{base: base, up: app, ab: ab}, admin: admin, adminHost: adminHost})
}
