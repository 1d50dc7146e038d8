package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/redistest"
)

// startDemo runs a demo for one test and stops it at the end.
func startDemo(t *testing.T, o Options) *stack {
	t.Helper()
	s, err := start(context.Background(), o)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.stop()) })
	return s
}

func TestOptionsRejected(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{name: "unknown gateway", o: Options{Gateway: "nginx"}, want: `gateway "nginx"`},
		{name: "token ttl below a second", o: Options{TokenTTL: 500 * time.Millisecond}, want: "token ttl 500ms"},
		{name: "refresh ahead not below ttl", o: Options{TokenTTL: 5 * time.Second, RefreshAhead: 5 * time.Second}, want: "refresh ahead 5s"},
		{name: "port out of range", o: Options{Port: 70000}, want: "port 70000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Run(context.Background(), tt.o)
			require.ErrorIs(t, err, ErrInvalidOptions)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestRedisUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now
	err = Run(context.Background(), Options{RedisURL: "redis://:secret@" + addr + "/0"})
	require.ErrorContains(t, err, "reach redis at redis://:xxxxx@"+addr)
	require.NotContains(t, err.Error(), "secret", "the password never reaches an error")
}

func TestBusyPortFallsBack(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	port := taken.Addr().(*net.TCPAddr).Port
	s := startDemo(t, Options{Port: port})
	require.True(t, s.urls.PortBusy)
	require.NotContains(t, s.urls.App, ":"+strconv.Itoa(port)+"/")
	var out bytes.Buffer
	s.banner(&out)
	require.Contains(t, out.String(), s.urls.App)
	require.Contains(t, out.String(), "was busy")
}

func TestRunStopsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{ready: make(chan struct{})}
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Options{Out: out}) }()
	<-out.ready // the banner is written once everything listens
	require.Contains(t, out.String(), "http://127.0.0.1:")
	cancel()
	require.NoError(t, <-done)
}

// TestLoginWithoutBrowser drives both gateway modes with a plain HTTP client: what a browser does,
// minus JavaScript. The browser test covers the rest.
func TestLoginWithoutBrowser(t *testing.T) {
	tests := []struct {
		name  string
		mode  string
		redis bool
	}{
		{name: "grpc gateway, memory store", mode: GatewayGRPC},
		{name: "http gateway, memory store", mode: GatewayHTTP},
		{name: "grpc gateway, redis store", mode: GatewayGRPC, redis: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Options{Gateway: tt.mode}
			if tt.redis {
				o.RedisURL = redistest.Start(t).URL()
			}
			s := startDemo(t, o)
			if tt.redis {
				require.Contains(t, s.urls.StoreDesc, "Redis")
			}
			jar, err := cookiejar.New(nil)
			require.NoError(t, err)
			c := &http.Client{Jar: jar, Timeout: 10 * time.Second,
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

			// A script without a session gets 401 JSON, never a redirect.
			status, ctype, body := get(t, c, s.urls.App+"api/whoami", "application/json")
			require.Equal(t, http.StatusUnauthorized, status)
			require.Equal(t, "application/json", ctype)
			require.Contains(t, body, `"login_url"`)

			// A navigation is sent to the provider, which shows the login form.
			loc := redirect(t, c, s.urls.App, s.urls.IdP+"authorize?")
			status, _, form := get(t, c, loc, "text/html")
			require.Equal(t, http.StatusOK, status)
			require.Contains(t, form, "alice-demo", "the demo login page lists the passwords")
			token := regexp.MustCompile(`name="form_token" value="([^"]+)"`).FindStringSubmatch(form)
			require.Len(t, token, 2)
			resp, err := c.PostForm(s.urls.IdP+"login", url.Values{"form_token": {token[1]}, "username": {"alice"}, "password": {"alice-demo"}})
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusFound, resp.StatusCode)
			callback := resp.Header.Get("Location")
			require.True(t, strings.HasPrefix(callback, s.urls.App+"oauth2/callback?"), callback)
			require.Equal(t, s.urls.App, redirect(t, c, callback, s.urls.App))

			status, _, page := get(t, c, s.urls.App, "text/html")
			require.Equal(t, http.StatusOK, status)
			require.Contains(t, page, `id="sub">auth0|alice<`)
			status, _, body = get(t, c, s.urls.App+"api/whoami", "application/json")
			require.Equal(t, http.StatusOK, status)
			var who struct{ Sub, Email, User string }
			require.NoError(t, json.Unmarshal([]byte(body), &who))
			require.Equal(t, "auth0|alice", who.Sub)
			require.Equal(t, "alice@example.com", who.Email)
			require.Equal(t, "auth0|alice", who.User)
		})
	}
}

// get fetches u with the given Accept and returns status, content type and body.
func get(t *testing.T, c *http.Client, u, accept string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", accept)
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// redirect navigates to u and requires a 302 whose Location starts with prefix.
func redirect(t *testing.T, c *http.Client, u, prefix string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	resp, err := c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc := resp.Header.Get("Location")
	require.True(t, strings.HasPrefix(loc, prefix), "redirect to %s, want prefix %s", loc, prefix)
	return loc
}
