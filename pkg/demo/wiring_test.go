package demo

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/pkg/session"
	"github.com/authbridge/authbridge/pkg/session/sessiontest"
)

// The demo runs authbridge through pkg/server, as `authbridge serve` does; these tests prove that it
// has what serve has: recovery, server timeouts, metrics and the memory store's sweeper.

// metrics returns the demo's /metrics page.
func metrics(t *testing.T, s *stack) string {
	t.Helper()
	status, _, body := get(t, http.DefaultClient, s.urls.Admin+"metrics", "text/plain")
	require.Equal(t, http.StatusOK, status)
	return body
}

// TestDemoRecovers: a panic while authbridge answers the gateway is a 503 for the browser, in both
// gateway modes, counted on the listener the gateway asked; the next request is served.
func TestDemoRecovers(t *testing.T) {
	tests := []struct{ gateway, listener string }{
		{GatewayGRPC, "grpc"},
		{GatewayHTTP, "forward_auth"},
	}
	for _, tt := range tests {
		t.Run(tt.gateway, func(t *testing.T) {
			store := &sessiontest.Panics{Store: session.NewMemoryStore(nil)}
			s := startDemo(t, Options{Gateway: tt.gateway, store: store})
			ticket, err := session.NewTicket()
			require.NoError(t, err)
			ask := func() int {
				req, err := http.NewRequest(http.MethodGet, s.urls.App+"api/whoami", nil)
				require.NoError(t, err)
				req.Header.Set("Accept", "application/json")
				req.AddCookie(&http.Cookie{Name: CookieName, Value: ticket.String()})
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				resp.Body.Close()
				return resp.StatusCode
			}
			store.Armed.Store(true)
			require.Equal(t, http.StatusServiceUnavailable, ask())
			require.Contains(t, metrics(t, s), `authbridge_panics_total{listener="`+tt.listener+`"} 1`)
			store.Armed.Store(false)
			require.Equal(t, http.StatusUnauthorized, ask(), "no such session, and the demo still answers")
		})
	}
}

// TestDemoMetrics: the banner names the admin listener, whose /metrics counts the demo's decisions.
func TestDemoMetrics(t *testing.T) {
	s := startDemo(t, Options{Version: "9.9.9-test"})
	var banner strings.Builder
	s.banner(&banner)
	require.Contains(t, banner.String(), s.urls.Admin)
	status, _, _ := get(t, http.DefaultClient, s.urls.App+"api/whoami", "application/json")
	require.Equal(t, http.StatusUnauthorized, status)
	m := metrics(t, s)
	require.Contains(t, m, `authbridge_decisions_total{front="extauthz",outcome="deny",reason="unauthenticated"} 1`)
	require.Contains(t, m, "authbridge_ready 1")
	require.Regexp(t, `authbridge_build_info\{[^}]*version="9\.9\.9-test"\} 1`, m, "the demo's build is labelled like serve's")
	status, _, _ = get(t, http.DefaultClient, s.urls.Admin+"readyz", "text/plain")
	require.Equal(t, http.StatusOK, status)
}

// TestDemoSweeper: the memory store's sweeper runs with the demo and frees expired entries.
func TestDemoSweeper(t *testing.T) {
	store := session.NewMemoryStore(nil)
	store.SetSweepEvery(5 * time.Millisecond)
	startDemo(t, Options{store: store})
	require.NoError(t, store.Put(context.Background(), "expires-at-once", []byte("x"), time.Millisecond))
	require.Eventually(t, func() bool { return store.Len() == 0 }, 5*time.Second, 5*time.Millisecond)
}

// TestDemoTimeouts: a client that never finishes its request headers (slowloris) is cut off by
// authbridge's listeners instead of holding a connection for ever. It waits out the 5s header timeout,
// so it runs beside the other tests.
func TestDemoTimeouts(t *testing.T) {
	t.Parallel()
	s := startDemo(t, Options{})
	for name, base := range map[string]string{"http": s.urls.HTTP, "forward-auth": s.urls.Forward, "admin": s.urls.Admin} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			conn, err := net.Dial("tcp", strings.TrimSuffix(strings.TrimPrefix(base, "http://"), "/"))
			require.NoError(t, err)
			defer conn.Close()
			_, err = io.WriteString(conn, "GET /auth HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
			require.NoError(t, err)
			require.NoError(t, conn.SetReadDeadline(time.Now().Add(15*time.Second)))
			start := time.Now()
			_, err = bufio.NewReader(conn).ReadString('\n')
			require.Error(t, err)
			var ne net.Error
			require.False(t, errors.As(err, &ne) && ne.Timeout(), "the server, not our deadline, ended the connection")
			require.Less(t, time.Since(start), 10*time.Second)
		})
	}
}
