package e2e_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/toolbuild"
)

// traefikStatic is Traefik's static configuration for a test run: the entry point the shipped routers
// name, on loopback, and the file provider reading the shipped dynamic config. Nothing calls out to the
// internet.
const traefikStatic = `global:
  checkNewVersion: false
  sendAnonymousUsage: false
entryPoints:
  websecure:
    address: 127.0.0.1:%d
providers:
  file:
    filename: %s
log:
  level: INFO
`

// requireTraefik returns the Traefik binary built from ./traefik-tools, or skips the test, saying why,
// when it does not build here: only the tests that run Traefik depend on it.
func requireTraefik(t *testing.T) string {
	t.Helper()
	bin, err := traefikBinary()
	if err != nil {
		t.Skipf("Traefik did not build here, so this test cannot run it (the other tests do not need it): %s",
			toolbuild.Tail(err, 2000))
	}
	return bin
}

// startTraefik runs Traefik with deploy/traefik/dynamic.yaml on port, asking authbridge's forward-auth
// listener at abForwardAuth and proxying to the upstream at upAddr.
func startTraefik(t *testing.T, bin string, port int, abForwardAuth, upAddr string) {
	t.Helper()
	runTraefik(t, bin, port, "traefik/dynamic.yaml", "http://authbridge:4181", "http://"+abForwardAuth,
		"http://api:8080", "http://"+upAddr)
}

// runTraefik runs Traefik on port with the shipped dynamic config at path, its placeholders replaced
// (see shipped), until the test ends. Besides those, the app's routers take host 127.0.0.1 and scheme
// http (no `tls: {}`), as the Caddy test serves its site.
func runTraefik(t *testing.T, bin string, port int, path string, replace ...string) {
	t.Helper()
	dir := t.TempDir()
	dyn := shipped(t, path, append([]string{"Host(`app.example.com`)", "Host(`127.0.0.1`)", "      tls: {}\n", ""}, replace...)...)
	dynPath := filepath.Join(dir, "dynamic.yaml")
	require.NoError(t, os.WriteFile(dynPath, []byte(dyn), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "traefik.yaml"), []byte(fmt.Sprintf(traefikStatic, port, dynPath)), 0o644))
	p, err := startProcess("traefik", dir, baseEnv(dir), bin, "--configFile="+filepath.Join(dir, "traefik.yaml"))
	require.NoError(t, err)
	t.Cleanup(p.stop)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(p.logTail())
		}
	})
	// Traefik listens before its file provider has loaded the routers, and answers 404 until then: ready
	// is the first request that reaches authbridge through the router (401, no session).
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	require.NoError(t, p.waitReady(func() error {
		req, err := http.NewRequest(http.MethodGet, base+"/ready-check", nil)
		if err != nil {
			return err
		}
		req.Header.Set("Accept", "application/json")
		resp, err := noRedirects.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			return fmt.Errorf("GET %s through Traefik: status %d, want 401 from authbridge", req.URL, resp.StatusCode)
		}
		return nil
	}))
}

// TestTraefik runs the browser flow through a real Traefik v3 configured with the shipped file-provider
// config, and the answers that must reach the browser through it as authbridge gave them.
func TestTraefik(t *testing.T) {
	t.Parallel()
	bin := requireTraefik(t)
	s := sharedStack(t)
	up := startUpstream(t)
	port, err := freePort()
	require.NoError(t, err)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	ab := startAuthbridge(t, s, base)
	startTraefik(t, bin, port, ab.forwardAuth, up.addr)
	g := gatewayUnderTest{base: base, up: up, ab: ab, spoofs: forgedAll()}

	runGatewayFlow(t, s, g)

	t.Run("without session", func(t *testing.T) {
		resp, _ := g.get(t, "/dash?tab=1&x=%2F", http.Header{"Accept": {"text/html"}, "Sec-Fetch-Mode": {"navigate"}}, "")
		require.Equal(t, http.StatusFound, resp.StatusCode, "a navigation is sent to log in")
		loc, err := url.Parse(resp.Header.Get("Location"))
		require.NoError(t, err)
		require.Equal(t, s.hydra.issuer+"/oauth2/auth", loc.Scheme+"://"+loc.Host+loc.Path)
		require.Equal(t, base+"/oauth2/callback", loc.Query().Get("redirect_uri"))
		require.Equal(t, "S256", loc.Query().Get("code_challenge_method"))
		require.Len(t, resp.Header.Values("Set-Cookie"), 1, "the pre-auth cookie")

		// Traefik asks with a GET whatever the method; X-Forwarded-Method carries it, so a form post is
		// refused (401), never turned into a redirect that loses its body.
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			req, err := http.NewRequest(method, base+"/dash?tab=1&x=%2F", strings.NewReader("a=1"))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Accept", "text/html")
			if method == http.MethodGet {
				req.Header.Set("Accept", "application/json")
			}
			resp, err := noRedirects.Do(req)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode, method)
			require.Equal(t, `Bearer realm="authbridge"`, resp.Header.Get("WWW-Authenticate"))
			require.Contains(t, string(body), `"login_url":"`+base+`/oauth2/start?rd=%2Fdash%3Ftab%3D1%26x%3D%252F"`, method)
		}
		require.Contains(t, ab.proc.log(), " method=POST host=127.0.0.1:"+strconv.Itoa(port)+" path=/dash ")
	})

	t.Run("a client's X-Forwarded-* never describe the request", func(t *testing.T) {
		// The entry point trusts no one (no forwardedHeaders.trustedIPs): it replaces the client's
		// X-Forwarded-* before forwardAuth passes them on (trustForwardHeader: true).
		resp, _ := g.get(t, "/traefik-spoof-check?x=1", http.Header{"Accept": {"application/json"},
			"X-Forwarded-Uri": {"/spoofed"}, "X-Forwarded-Method": {"DELETE"}, "X-Forwarded-Host": {"evil.test"},
			"X-Forwarded-Proto": {"https"}}, "")
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		require.Contains(t, ab.proc.log(), " method=GET host=127.0.0.1:"+strconv.Itoa(port)+" path=/traefik-spoof-check ")
		require.NotContains(t, ab.proc.log(), "evil.test")
		require.NotContains(t, ab.proc.log(), "/spoofed")
	})

	t.Run("every redirect stays on the gateway's origin or the provider's", func(t *testing.T) {
		// Traefik resolves a relative Location against authbridge's own address: a fallback answered as
		// "/" would send the browser to authbridge's forward-auth port. Each login follows every hop.
		tests := []struct {
			name, rd, want string
		}{
			{"relative", "/deep?x=1", base + "/deep?x=1"},
			{"refused host", "https://evil.test/", base + "/"},
			{"protocol relative", "//evil.test/x", base + "/"},
			{"another port on a listed host", "http://127.0.0.1:1/steal", base + "/"},
			{"backslash", "/\\evil.test", base + "/"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				landed, hops, _ := goLogin(t, s, base, "/oauth2/start?rd="+url.QueryEscape(tt.rd), "carol")
				for _, h := range hops {
					require.Contains(t, []string{strings.TrimPrefix(base, "http://"), hostOf(s.hydra.issuer), hostOf(s.hydra.uiURL)},
						h.Host, "a redirect to %s", h.Redacted())
				}
				require.Equal(t, tt.want, landed)
			})
		}
	})
}

func hostOf(raw string) string {
	u, _ := url.Parse(raw)
	return u.Host
}

// goLogin logs user in through the gateway at base with a plain HTTP client, as a browser without
// scripts would, starting at path, and returns where the browser landed, every URL a redirect sent it to,
// and the session cookie's value.
func goLogin(t *testing.T, s *stack, base, path, user string) (string, []*url.URL, string) {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	var hops []*url.URL
	c := &http.Client{Jar: jar, Timeout: 20 * time.Second, CheckRedirect: func(r *http.Request, via []*http.Request) error {
		hops = append(hops, r.URL)
		if len(via) >= 10 {
			return fmt.Errorf("stopped after 10 redirects")
		}
		return nil
	}}
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/html")
	resp, err := c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.True(t, strings.HasPrefix(resp.Request.URL.String(), s.hydra.uiURL+"/login?"), "the login form, at %s", resp.Request.URL.Redacted())
	resp, err = c.PostForm(s.hydra.uiURL+"/login", url.Values{
		"challenge": {resp.Request.URL.Query().Get("login_challenge")}, "username": {user},
	})
	require.NoError(t, err)
	resp.Body.Close()
	u, _ := url.Parse(base)
	for _, ck := range jar.Cookies(u) {
		if ck.Name == cookieName {
			return resp.Request.URL.String(), hops, ck.Value
		}
	}
	t.Fatal("no session cookie after login")
	return "", nil, ""
}

// TestTraefikTwoApps runs deploy/traefik/two-apps.yaml: one middleware per policy route, named in the
// forward-auth address, with the admin app on its own host.
func TestTraefikTwoApps(t *testing.T) {
	t.Parallel()
	bin := requireTraefik(t)
	s := sharedStack(t)
	app, admin := startUpstream(t), startUpstream(t)
	port, err := freePort()
	require.NoError(t, err)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	ab := startAuthbridge(t, s, base, twoAppsTestPolicy)
	runTraefik(t, bin, port, "traefik/two-apps.yaml",
		"http://authbridge:4181", "http://"+ab.forwardAuth,
		"http://admin:8080", "http://"+admin.addr,
		"http://app:8080", "http://"+app.addr)

	runTwoApps(t, s, twoApps{gatewayUnderTest: gatewayUnderTest{base: base, up: app, ab: ab}, admin: admin, adminHost: "admin.example.com"})
}
