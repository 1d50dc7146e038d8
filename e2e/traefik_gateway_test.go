package e2e_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/gateway"
)

// TestTraefikGateway runs the browser flow through a gateway that does what Traefik's entry point and
// forwardAuth middleware do, configured from the shipped file-provider config, and asks /auth directly
// with the exact headers Traefik sends.
func TestTraefikGateway(t *testing.T) {
	t.Parallel()
	mw, route, dyn := readTraefik(t)
	files, err := shippedTraefik(mw, route, dyn)
	require.NoError(t, err)
	fa := files.dynamic.HTTP.Middlewares["authbridge"].ForwardAuth
	require.NotNil(t, fa)

	s := sharedStack(t)
	up := startUpstream(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	base := "http://" + l.Addr().String()
	ab := startAuthbridge(t, s, base)
	gw, err := gateway.NewForwardAuth(gateway.ForwardAuthOptions{
		Address:             strings.Replace(fa.Address, "authbridge:4181", ab.forwardAuth, 1),
		Upstream:            &url.URL{Scheme: "http", Host: up.addr},
		AuthResponseHeaders: fa.AuthResponseHeaders,
	})
	require.NoError(t, err)
	srv := &http.Server{Handler: traefikRegexStrip(regexp.MustCompile(fa.AuthResponseHeadersRegex), gw), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	g := gatewayUnderTest{base: base, up: up, ab: ab, spoofs: forgedAll()}

	runGatewayFlow(t, s, g)

	t.Run("/auth with Traefik's headers", func(t *testing.T) {
		session := goLogin(t, s, base, "bob")
		// The client's request as it reaches the forwardAuth middleware, past the entry point.
		client := func(method, accept, fetchMode string, session string) *http.Request {
			r := httptest.NewRequest(method, base+"/dash?tab=1&x=%2F", nil)
			r.RemoteAddr = "198.51.100.7:40000"
			r.Header.Set("Accept", accept)
			if fetchMode != "" {
				r.Header.Set("Sec-Fetch-Mode", fetchMode)
			}
			r.Header.Set("Connection", "keep-alive, X-Hop")
			r.Header.Set("X-Hop", "1")
			r.Header.Set("Keep-Alive", "timeout=5")
			r.Header.Set("Te", "trailers")
			r.Header.Set("Upgrade", "websocket")
			r.Header.Set("X-Forwarded-Uri", "/forged") // a client's own copy, dropped by the entry point
			if session != "" {
				r.AddCookie(&http.Cookie{Name: cookieName, Value: session})
			}
			gateway.EntryPointHeaders(r)
			return r
		}
		ask := func(r *http.Request) (*http.Response, string) {
			fr, err := gateway.ForwardAuthRequest(context.Background(), r, "http://"+ab.forwardAuth+"/auth")
			require.NoError(t, err)
			require.Equal(t, http.MethodGet, fr.Method)
			for _, k := range []string{"Connection", "X-Hop", "Keep-Alive", "Te", "Upgrade"} {
				require.Empty(t, fr.Header.Values(k), "hop-by-hop %s is not forwarded", k)
			}
			require.Equal(t, r.Method, fr.Header.Get("X-Forwarded-Method"))
			require.Equal(t, "http", fr.Header.Get("X-Forwarded-Proto"))
			require.Equal(t, strings.TrimPrefix(base, "http://"), fr.Header.Get("X-Forwarded-Host"))
			require.Equal(t, "/dash?tab=1&x=%2F", fr.Header.Get("X-Forwarded-Uri"))
			require.Equal(t, "198.51.100.7", fr.Header.Get("X-Forwarded-For"))
			resp, err := noRedirects.Do(fr)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp, string(body)
		}

		resp, _ := ask(client(http.MethodGet, "text/html", "navigate", ""))
		require.Equal(t, http.StatusFound, resp.StatusCode, "a navigation is sent to log in")
		loc, err := url.Parse(resp.Header.Get("Location"))
		require.NoError(t, err)
		require.Equal(t, s.hydra.issuer+"/oauth2/auth", loc.Scheme+"://"+loc.Host+loc.Path)
		require.Equal(t, base+"/oauth2/callback", loc.Query().Get("redirect_uri"))
		require.Equal(t, "S256", loc.Query().Get("code_challenge_method"))
		require.Len(t, resp.Header.Values("Set-Cookie"), 1, "the pre-auth cookie")

		for _, r := range []*http.Request{
			client(http.MethodGet, "application/json", "cors", ""),
			client(http.MethodPost, "text/html", "navigate", ""), // a form post is never redirected
		} {
			resp, body := ask(r)
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode, r.Method)
			require.Equal(t, `Bearer realm="authbridge"`, resp.Header.Get("WWW-Authenticate"))
			var answer struct {
				Error    string `json:"error"`
				LoginURL string `json:"login_url"`
			}
			require.NoError(t, json.Unmarshal([]byte(body), &answer))
			require.Equal(t, "unauthenticated", answer.Error)
			require.Equal(t, base+"/oauth2/start?rd=%2Fdash%3Ftab%3D1%26x%3D%252F", answer.LoginURL)
		}

		resp, _ = ask(client(http.MethodGet, "application/json", "cors", session))
		require.Equal(t, http.StatusOK, resp.StatusCode)
		requireIdentity(t, s, ab, resp.Header, "bob")
	})
}

// goLogin logs user in through the gateway at base with a plain HTTP client, as a browser without
// scripts would, and returns the session cookie's value.
func goLogin(t *testing.T, s *stack, base, user string) string {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	req, err := http.NewRequest(http.MethodGet, base+"/go-login", nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/html")
	resp, err := c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.True(t, strings.HasPrefix(resp.Request.URL.String(), s.hydra.uiURL+"/login?"), "the login form, at %s", resp.Request.URL)
	resp, err = c.PostForm(s.hydra.uiURL+"/login", url.Values{
		"challenge": {resp.Request.URL.Query().Get("login_challenge")}, "username": {user},
	})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, base+"/go-login", resp.Request.URL.String(), "back at the app")
	u, _ := url.Parse(base)
	for _, ck := range jar.Cookies(u) {
		if ck.Name == cookieName {
			return ck.Value
		}
	}
	t.Fatal("no session cookie after login")
	return ""
}
