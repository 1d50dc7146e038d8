package server_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/authbridge/authbridge/pkg/authz"
	"github.com/authbridge/authbridge/pkg/devidp"
	"github.com/authbridge/authbridge/pkg/forwardauth"
	"github.com/authbridge/authbridge/pkg/login"
	"github.com/authbridge/authbridge/pkg/server"
	"github.com/authbridge/authbridge/pkg/session"
	"github.com/authbridge/authbridge/pkg/session/sessiontest"
)

// running is a memory store that counts the Run calls in progress.
type running struct {
	*session.MemoryStore
	n atomic.Int32
}

func (s *running) Run(ctx context.Context) error {
	s.n.Add(1)
	defer s.n.Add(-1)
	return s.MemoryStore.Run(ctx)
}

// fixture is a running server against the development provider.
type fixture struct {
	http, forwardAuth, admin string // base URLs
	grpc                     string // host:port
	stop                     func() error
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return ln
}

func options(t *testing.T, store session.Store) server.Options {
	t.Helper()
	idpSrv := httptest.NewServer(nil)
	t.Cleanup(idpSrv.Close)
	idp, err := devidp.New(devidp.Options{
		Issuer:  idpSrv.URL + "/",
		Clients: []devidp.Client{{ID: "app", Secret: "s3cr3t", RedirectURIs: []string{"http://app.test/oauth2/callback"}}},
		Users:   []devidp.User{{Username: "alice", Password: "pw", Email: "alice@example.com"}},
	})
	require.NoError(t, err)
	idpSrv.Config.Handler = idp.Handler()
	return server.Options{
		Store: store,
		Login: login.Config{IssuerURL: idpSrv.URL + "/", ClientID: "app", ClientSecret: "s3cr3t",
			RedirectURL: "http://app.test/oauth2/callback", Scopes: []string{"openid", "email"}},
		Engine: authz.Options{Cookie: authz.CookieOptions{Name: "authbridge"}, Lifetimes: authz.Lifetimes{
			Idle: time.Hour, Max: time.Hour, RefreshAhead: time.Minute, Login: time.Minute}},
		Fronts:    forwardauth.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}},
		Listeners: server.Listeners{HTTP: listen(t), ForwardAuth: listen(t), GRPC: listen(t), Admin: listen(t)},
	}
}

func start(t *testing.T, o server.Options) *fixture {
	t.Helper()
	srv, err := server.New(context.Background(), o)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	stopped := false
	f := &fixture{
		http: "http://" + o.Listeners.HTTP.Addr().String(), forwardAuth: "http://" + o.Listeners.ForwardAuth.Addr().String(),
		admin: "http://" + o.Listeners.Admin.Addr().String(), grpc: o.Listeners.GRPC.Addr().String(),
		stop: func() error {
			if stopped {
				return nil
			}
			stopped = true
			cancel()
			return <-done
		},
	}
	t.Cleanup(func() { require.NoError(t, f.stop()) })
	return f
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func get(t *testing.T, url string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Header = header
	resp, err := noRedirects.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// TestPanicFailsClosedOnEveryListener: a bug in the request path answers 503 (in band for Check) on
// each listener that reaches the engine, is counted by listener, and the next request is served.
func TestPanicFailsClosedOnEveryListener(t *testing.T) {
	store := &sessiontest.Panics{Store: session.NewMemoryStore(nil)}
	f := start(t, options(t, store))
	ticket, err := session.NewTicket()
	require.NoError(t, err)
	cookie := "authbridge=" + ticket.String()

	conn, err := grpc.NewClient(f.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	check := func() int {
		resp, err := authv3.NewAuthorizationClient(conn).Check(context.Background(), &authv3.CheckRequest{
			Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
				Method: "GET", Host: "app.test", Path: "/", Scheme: "https",
				Headers: map[string]string{"cookie": cookie, "accept": "application/json"}}}}})
		require.NoError(t, err, "never a gRPC error: failure_mode_allow would let the request through")
		if resp.GetStatus().GetCode() == int32(codes.OK) {
			return http.StatusOK
		}
		return int(resp.GetDeniedResponse().GetStatus().GetCode())
	}
	tests := []struct {
		listener string
		ask      func() int
		unarmed  int // the answer without the bug: no such session
	}{
		{"http", func() int {
			code, _ := get(t, f.http+"/oauth2/sign_out", http.Header{"Cookie": {cookie}, "Sec-Fetch-Site": {"none"}})
			return code
		}, http.StatusFound},
		{"forward_auth", func() int {
			code, _ := get(t, f.forwardAuth+"/auth", http.Header{"Cookie": {cookie}, "Accept": {"application/json"},
				"X-Forwarded-Method": {"GET"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"app.test"}, "X-Forwarded-Uri": {"/"}})
			return code
		}, http.StatusUnauthorized},
		{"grpc", check, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.listener, func(t *testing.T) {
			store.Armed.Store(true)
			require.Equal(t, http.StatusServiceUnavailable, tt.ask())
			store.Armed.Store(false)
			require.Equal(t, tt.unarmed, tt.ask(), "the next request is served")
			_, metrics := get(t, f.admin+"/metrics", nil)
			require.Contains(t, metrics, `authbridge_panics_total{listener="`+tt.listener+`"} 1`)
		})
	}
}

// TestStoreRunsWithServer: a store's own background work (the memory store's sweeper) runs while the
// server runs, and stops with it.
func TestStoreRunsWithServer(t *testing.T) {
	store := &running{MemoryStore: session.NewMemoryStore(nil)}
	store.SetSweepEvery(5 * time.Millisecond)
	f := start(t, options(t, store))
	require.NoError(t, store.Put(context.Background(), "gone-soon", []byte("x"), time.Millisecond))
	require.Eventually(t, func() bool { return store.n.Load() == 1 && store.Len() == 0 }, 5*time.Second, 5*time.Millisecond,
		"the sweeper frees the expired entry")
	require.NoError(t, f.stop())
	require.Zero(t, store.n.Load(), "the sweeper stops with the server")
}

// TestAdminListener: metrics (the engine's included), liveness and readiness on the admin listener.
func TestAdminListener(t *testing.T) {
	f := start(t, options(t, session.NewMemoryStore(nil)))
	code, _ := get(t, f.forwardAuth+"/auth", http.Header{"Accept": {"application/json"}, "X-Forwarded-Method": {"GET"},
		"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"app.test"}, "X-Forwarded-Uri": {"/"}})
	require.Equal(t, http.StatusUnauthorized, code)
	code, metrics := get(t, f.admin+"/metrics", nil)
	require.Equal(t, http.StatusOK, code)
	for _, want := range []string{`authbridge_decisions_total{front="forwardauth",outcome="deny",reason="unauthenticated"} 1`, "authbridge_ready 1",
		"go_goroutines", "process_"} {
		require.Contains(t, metrics, want)
	}
	code, _ = get(t, f.admin+"/healthz", nil)
	require.Equal(t, http.StatusOK, code)
	code, _ = get(t, f.admin+"/readyz", nil)
	require.Equal(t, http.StatusOK, code)
	code, _ = get(t, f.admin+"/admin/sessions?sub=x", nil)
	require.Equal(t, http.StatusNotFound, code, "no admin token: no admin API")
}

func TestNewRejectsMissingParts(t *testing.T) {
	tests := []struct {
		name string
		edit func(*server.Options)
		want string
	}{
		{"no store", func(o *server.Options) { o.Store = nil }, "no session store"},
		{"no grpc listener", func(o *server.Options) { o.Listeners.GRPC = nil }, "no grpc listener"},
		{"no admin listener", func(o *server.Options) { o.Listeners.Admin = nil }, "no admin listener"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := options(t, session.NewMemoryStore(nil))
			tt.edit(&o)
			_, err := server.New(context.Background(), o)
			require.ErrorIs(t, err, server.ErrInvalidOptions)
			require.ErrorContains(t, err, tt.want)
		})
	}
}
