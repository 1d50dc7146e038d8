package readiness_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/authbridge/authbridge/pkg/readiness"
)

// switchPinger answers Ping with an error while down. The real store and provider are exercised by
// cmd/authbridge's TestServeReadiness (redis-server and devidp).
type switchPinger struct{ down atomic.Bool }

func (p *switchPinger) Ping(context.Context) error {
	if p.down.Load() {
		return errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")
	}
	return nil
}

const svc = "envoy.service.auth.v3.Authorization"

func TestProbe(t *testing.T) {
	tests := []struct {
		name         string
		storeDown    bool
		providerDown bool
		noProvider   bool
		shutdown     bool
		wantStatus   int
		wantVerbose  string
		wantMetrics  [3]float64 // ready, store_up, provider_up
	}{
		{"all up", false, false, false, false, 200,
			"[+]store ok\n[+]provider ok (not required)\nreadyz: ok\n", [3]float64{1, 1, 1}},
		{"provider down: still ready", false, true, false, false, 200,
			"[+]store ok\n[-]provider unreachable (not required)\nreadyz: ok\n", [3]float64{1, 1, 0}},
		{"store down", true, false, false, false, 503,
			"[-]store unreachable\n[+]provider ok (not required)\nreadyz: not ready\n", [3]float64{0, 0, 1}},
		{"both down", true, true, false, false, 503,
			"[-]store unreachable\n[-]provider unreachable (not required)\nreadyz: not ready\n", [3]float64{0, 0, 0}},
		{"no provider configured", false, false, true, false, 200,
			"[+]store ok\nreadyz: ok\n", [3]float64{1, 1, 0}},
		{"shutting down", false, false, false, true, 503,
			"[+]store ok\n[+]provider ok (not required)\n[-]shutting down\nreadyz: not ready\n", [3]float64{0, 1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, provider := &switchPinger{}, &switchPinger{}
			store.down.Store(tt.storeDown)
			provider.down.Store(tt.providerDown)
			hs, reg := health.NewServer(), prometheus.NewRegistry()
			o := readiness.Options{Store: store, Provider: provider, Health: hs, Services: []string{"", svc}, Registry: reg}
			if tt.noProvider {
				o.Provider = nil
			}
			p := readiness.New(o)
			p.Check(context.Background())
			if tt.shutdown {
				p.Shutdown()
				store.down.Store(false)
				p.Check(context.Background()) // later probes cannot undo it
			}
			status, body := get(t, p, "/readyz")
			require.Equal(t, tt.wantStatus, status)
			_, verbose := get(t, p, "/readyz?verbose")
			require.Equal(t, tt.wantVerbose, verbose)
			require.NotContains(t, verbose, "127.0.0.1", "no error text")
			require.Equal(t, tt.wantStatus == 200, p.Ready())
			if tt.wantStatus == 200 {
				require.Equal(t, "ok\n", body)
			} else {
				require.Equal(t, "not ready\n", body)
			}
			requireHealth(t, hs, tt.wantStatus == 200)
			for i, name := range []string{"authbridge_ready", "authbridge_store_up", "authbridge_provider_up"} {
				require.Equal(t, tt.wantMetrics[i], gauge(t, reg, name), name)
			}
		})
	}
}

// TestProbeFollowsTheStore: before the first probe nothing is ready; each probe moves /readyz and gRPC
// health together, both ways.
func TestProbeFollowsTheStore(t *testing.T) {
	store := &switchPinger{}
	hs := health.NewServer()
	p := readiness.New(readiness.Options{Store: store, Health: hs, Services: []string{"", svc}})
	requireHealth(t, hs, false)
	_, verbose := get(t, p, "/readyz?verbose")
	require.Equal(t, "[-]store not probed yet\nreadyz: not ready\n", verbose)
	for _, down := range []bool{false, true, false, true} {
		store.down.Store(down)
		p.Check(context.Background())
		status, _ := get(t, p, "/readyz")
		require.Equal(t, !down, status == http.StatusOK)
		requireHealth(t, hs, !down)
	}
}

func get(t *testing.T, h http.Handler, target string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
	b, err := io.ReadAll(rec.Result().Body)
	require.NoError(t, err)
	require.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	return rec.Code, string(b)
}

func requireHealth(t *testing.T, hs *health.Server, serving bool) {
	t.Helper()
	want := healthpb.HealthCheckResponse_NOT_SERVING
	if serving {
		want = healthpb.HealthCheckResponse_SERVING
	}
	for _, s := range []string{"", svc} {
		resp, err := hs.Check(context.Background(), &healthpb.HealthCheckRequest{Service: s})
		require.NoError(t, err)
		require.Equal(t, want, resp.GetStatus(), "service %q", s)
	}
}

func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("%s not registered", name)
	return 0
}
