package recovery_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/internal/logbuf"
	"github.com/authbridge/authbridge/pkg/extauthz"
	"github.com/authbridge/authbridge/pkg/forwardauth"
	"github.com/authbridge/authbridge/pkg/recovery"
	"github.com/authbridge/authbridge/pkg/session"
	"github.com/authbridge/authbridge/pkg/session/sessiontest"
)

const panicMsg = "panic in request handler, answered unavailable"

type fixture struct {
	reg   *prometheus.Registry
	rec   *recovery.Recoverer
	logs  *logbuf.Buffer
	store *sessiontest.Panics
	env   *enginetest.Env
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{reg: prometheus.NewRegistry(), logs: &logbuf.Buffer{}, store: &sessiontest.Panics{Store: session.NewMemoryStore(nil)}}
	f.rec = recovery.New(f.reg, slog.New(slog.NewJSONHandler(f.logs, nil)))
	f.env = enginetest.New(t, enginetest.Options{Store: f.store})
	return f
}

// panics reads authbridge_panics_total{listener} from reg; the series exists before any panic.
func panics(t *testing.T, reg *prometheus.Registry, listener string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if mf.GetName() == "authbridge_panics_total" && m.GetLabel()[0].GetValue() == listener {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no authbridge_panics_total series for listener %q", listener)
	return 0
}

// panicLines returns the log records of recovered panics.
func (f *fixture) panicLines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(f.logs.String()) {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec))
		if rec["msg"] == panicMsg {
			out = append(out, rec)
		}
	}
	return out
}

// TestGRPCCheckPanic: a panic inside Check becomes Envoy's in-band 503 denial (never a gRPC error),
// logged once with its stack and counted, and the server answers the next Check.
func TestGRPCCheckPanic(t *testing.T) {
	f := newFixture(t)
	cookie, _ := f.env.Login(t, "/")
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(f.rec.Unary("grpc", extauthz.Fallback)),
		grpc.ChainStreamInterceptor(f.rec.Stream("grpc")))
	authv3.RegisterAuthorizationServer(srv, extauthz.New(f.env.Engine, nil))
	healthpb.RegisterHealthServer(srv, panickyHealth{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	client := authv3.NewAuthorizationClient(conn)
	check := func() *authv3.CheckResponse {
		t.Helper()
		resp, err := client.Check(context.Background(), checkRequest(cookie))
		require.NoError(t, err, "never a gRPC error: failure_mode_allow would let the request through")
		return resp
	}
	require.Zero(t, panics(t, f.reg, "grpc"))

	f.store.Armed.Store(true)
	resp := check()
	require.Equal(t, int32(codes.Unavailable), resp.GetStatus().GetCode())
	require.EqualValues(t, http.StatusServiceUnavailable, resp.GetDeniedResponse().GetStatus().GetCode())
	require.Nil(t, resp.GetOkResponse())
	require.Equal(t, float64(1), panics(t, f.reg, "grpc"))
	lines := f.panicLines(t)
	require.Len(t, lines, 1, "logged once")
	require.Equal(t, "ERROR", lines[0]["level"])
	require.Equal(t, "/envoy.service.auth.v3.Authorization/Check", lines[0]["where"])
	require.Contains(t, lines[0]["panic"], "assignment to entry in nil map")
	require.Contains(t, lines[0]["stack"], "(*Panics).Get", "the stack shows where it happened")
	require.NotContains(t, f.logs.String(), strings.TrimPrefix(cookie, "authbridge="), "no cookie in the log")

	f.store.Armed.Store(false)
	require.Equal(t, int32(codes.OK), check().GetStatus().GetCode(), "the next check is served")

	// Other methods (health) get codes.Unavailable, unary or streaming.
	_, err = healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
	require.Equal(t, codes.Unavailable, status.Code(err))
	w, err := healthpb.NewHealthClient(conn).Watch(context.Background(), &healthpb.HealthCheckRequest{})
	require.NoError(t, err)
	_, err = w.Recv()
	require.Equal(t, codes.Unavailable, status.Code(err))
	require.Equal(t, float64(3), panics(t, f.reg, "grpc"))
}

type panickyHealth struct {
	healthpb.UnimplementedHealthServer
}

func (panickyHealth) Check(context.Context, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	panic("health check exploded")
}

func (panickyHealth) Watch(*healthpb.HealthCheckRequest, grpc.ServerStreamingServer[healthpb.HealthCheckResponse]) error {
	panic("health watch exploded")
}

func checkRequest(cookie string) *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
		Http: &authv3.AttributeContext_HttpRequest{Method: "GET", Host: enginetest.AppHost, Path: "/", Scheme: "https",
			Headers: map[string]string{"cookie": cookie, "accept": "application/json"}},
	}}}
}

// TestHTTPForwardAuthPanic: the same bug under the forward-auth front answers a generic 503 with
// Cache-Control: no-store, and the front keeps serving.
func TestHTTPForwardAuthPanic(t *testing.T) {
	f := newFixture(t)
	cookie, _ := f.env.Login(t, "/")
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	srv := httptest.NewServer(f.rec.HTTP("forward_auth", forwardauth.NewGateway(f.env.Engine, forwardauth.Options{TrustedProxies: loopback})))
	t.Cleanup(srv.Close)
	auth := func() *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+"/auth", nil)
		// Traefik's description of the browser's request.
		req.Header.Set("X-Forwarded-Method", "GET")
		req.Header.Set("X-Forwarded-Proto", "https")
		req.Header.Set("X-Forwarded-Host", enginetest.AppHost)
		req.Header.Set("X-Forwarded-Uri", "/?code=secret-code")
		req.Header.Set("Cookie", cookie)
		req.Header.Set("Accept", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		return resp
	}
	f.store.Armed.Store(true)
	resp := auth()
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, recovery.Body, string(body))
	require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	require.Empty(t, resp.Header.Get("Authorization"))
	require.Equal(t, float64(1), panics(t, f.reg, "forward_auth"))
	lines := f.panicLines(t)
	require.Len(t, lines, 1)
	require.Equal(t, "/auth", lines[0]["where"], "the path, not the query")
	require.Contains(t, lines[0]["stack"], "(*Panics).Get")
	require.NotContains(t, f.logs.String(), "secret-code")
	require.NotContains(t, f.logs.String(), strings.TrimPrefix(cookie, "authbridge="))

	f.store.Armed.Store(false)
	resp = auth()
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "the next request is served")
}

// TestHTTPMiddleware covers what the handler may have done before it panicked.
func TestHTTPMiddleware(t *testing.T) {
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		wantStatus int  // 0: the connection is cut
		wantCount  bool // counted and logged
	}{
		{"panic before any answer", func(http.ResponseWriter, *http.Request) { panic("boom") }, 503, true},
		{"headers set, not sent: all dropped", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Authorization", "Bearer leaked")
			w.Header().Add("Set-Cookie", "authbridge=leaked")
			panic(errors.New("boom"))
		}, 503, true},
		{"answer started: connection cut", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Authorization", "Bearer leaked")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte("half an answ"))
			panic("boom")
		}, 0, true},
		{"deliberate abort passes through", func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }, 0, false},
		{"no panic", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("fine")) }, 200, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg, logs := prometheus.NewRegistry(), &logbuf.Buffer{}
			rec := recovery.New(reg, slog.New(slog.NewJSONHandler(logs, nil)))
			mux := http.NewServeMux()
			mux.Handle("/x", tt.handler)
			mux.HandleFunc("/ok", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
			srv := httptest.NewServer(rec.HTTP("admin", mux))
			srv.Config.ErrorLog = slog.NewLogLogger(slog.NewJSONHandler(logs, nil).WithGroup("server"), slog.LevelError)
			t.Cleanup(srv.Close)

			resp, err := srv.Client().Get(srv.URL + "/x")
			if tt.wantStatus == 0 {
				if err == nil {
					_, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				require.Error(t, err, "a cut connection, not a complete answer")
			} else {
				require.NoError(t, err)
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				require.Equal(t, tt.wantStatus, resp.StatusCode)
				if tt.wantStatus == 503 {
					require.Equal(t, recovery.Body, string(body))
					require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
					require.Empty(t, resp.Header.Values("Authorization"))
					require.Empty(t, resp.Header.Values("Set-Cookie"))
				}
			}
			want := 0
			if tt.wantCount {
				want = 1
			}
			require.Equal(t, float64(want), panics(t, reg, "admin"))
			require.Equal(t, want, strings.Count(logs.String(), panicMsg), logs.String())
			require.NotContains(t, logs.String(), "leaked")
			require.NotContains(t, logs.String(), "http: panic serving", "net/http never sees it")

			resp, err = srv.Client().Get(srv.URL + "/ok")
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode, "still serving")
		})
	}
}
