package main

import (
	"context"
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// probeWait bounds how long a change takes to reach readiness: the store is probed every 2s.
const probeWait = 10 * time.Second

// readyState is what every readiness signal says at one moment.
type readyState struct {
	status  int    // /readyz
	verbose string // /readyz?verbose
	grpc    map[string]healthpb.HealthCheckResponse_ServingStatus
	metrics string
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// readState reads every view of readiness until two reads in a row agree, so that a probe landing
// between the reads of one snapshot cannot make the views look inconsistent.
func readState(t *testing.T, inst *instance, health healthpb.HealthClient) readyState {
	t.Helper()
	prev := readOnce(t, inst, health)
	for {
		st := readOnce(t, inst, health)
		if st.status == prev.status && st.verbose == prev.verbose && maps.Equal(st.grpc, prev.grpc) &&
			gauges(st.metrics) == gauges(prev.metrics) {
			return st
		}
		prev = st
	}
}

// gauges are the readiness lines of a metrics page.
func gauges(metrics string) string {
	var out []string
	for _, l := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(l, "authbridge_ready ") || strings.HasPrefix(l, "authbridge_store_up ") || strings.HasPrefix(l, "authbridge_provider_up ") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func readOnce(t *testing.T, inst *instance, health healthpb.HealthClient) readyState {
	t.Helper()
	st := readyState{grpc: map[string]healthpb.HealthCheckResponse_ServingStatus{}}
	st.status, _ = get(t, inst.admin+"/readyz")
	_, st.verbose = get(t, inst.admin+"/readyz?verbose")
	for _, svc := range []string{"", authv3.Authorization_ServiceDesc.ServiceName} {
		h, err := health.Check(context.Background(), &healthpb.HealthCheckRequest{Service: svc})
		require.NoError(t, err)
		st.grpc[svc] = h.GetStatus()
	}
	_, st.metrics = get(t, inst.admin+"/metrics")
	return st
}

// requireAgree checks that /readyz and the gRPC health service say the same thing.
func requireAgree(t *testing.T, st readyState) {
	t.Helper()
	want := healthpb.HealthCheckResponse_NOT_SERVING
	if st.status == http.StatusOK {
		want = healthpb.HealthCheckResponse_SERVING
	}
	for svc, got := range st.grpc {
		require.Equal(t, want, got, "gRPC health of %q disagrees with /readyz %d", svc, st.status)
	}
}

// TestServeReadiness: readiness follows the session store alone. With the provider gone the replica
// stays ready (and a logged-in user is still allowed), the provider's state shows in /readyz?verbose and
// authbridge_provider_up; with Redis gone /readyz answers 503 and gRPC health NOT_SERVING, together.
func TestServeReadiness(t *testing.T) {
	inst := start(t, time.Hour)
	_, cookie := browserLogin(t, inst)
	conn, err := grpc.NewClient(inst.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	health := healthpb.NewHealthClient(conn)

	st := readState(t, inst, health)
	require.Equal(t, http.StatusOK, st.status)
	require.Equal(t, "[+]store ok\n[+]provider ok (not required)\nreadyz: ok\n", st.verbose)
	requireAgree(t, st)
	for _, m := range []string{"authbridge_ready 1", "authbridge_store_up 1", "authbridge_provider_up 1"} {
		require.Contains(t, st.metrics, "\n"+m+"\n")
	}

	// The provider goes away: still ready, and the session keeps working.
	inst.idpSrv.Close()
	require.Eventually(t, func() bool {
		st = readState(t, inst, health)
		// Both views, read one after the other, once the probe's result reached them.
		return strings.Contains(st.metrics, "\nauthbridge_provider_up 0\n") && strings.Contains(st.verbose, "[-]provider")
	}, probeWait, 20*time.Millisecond)
	require.Equal(t, http.StatusOK, st.status)
	require.Equal(t, "[+]store ok\n[-]provider unreachable (not required)\nreadyz: ok\n", st.verbose)
	require.Contains(t, st.metrics, "\nauthbridge_ready 1\n")
	requireAgree(t, st)
	require.Equal(t, http.StatusOK, traefikAuth(t, inst, cookie, "text/html").StatusCode)

	// Redis goes away: unready everywhere at once.
	inst.redis.Stop()
	require.Eventually(t, func() bool {
		st = readState(t, inst, health)
		return st.status == http.StatusServiceUnavailable
	}, probeWait, 20*time.Millisecond)
	require.Equal(t, "[-]store unreachable\n[-]provider unreachable (not required)\nreadyz: not ready\n", st.verbose)
	require.Contains(t, st.metrics, "\nauthbridge_ready 0\n")
	require.Contains(t, st.metrics, "\nauthbridge_store_up 0\n")
	requireAgree(t, st)

	inst.redis.Restart()
	require.Eventually(t, func() bool {
		st = readState(t, inst, health)
		return st.status == http.StatusOK
	}, probeWait, 20*time.Millisecond)
	requireAgree(t, st)

	logs := inst.logs.String()
	require.Contains(t, logs, `"msg":"identity provider unreachable: still ready, valid sessions keep working"`)
	require.Contains(t, logs, `"msg":"session store unreachable: not ready"`)
	require.NotContains(t, st.verbose+logs, testSecret)
}

// TestServeReadinessDuringShutdown: while in-flight checks drain, /readyz says not ready (gRPC health
// is set NOT_SERVING in the same step, as the gRPC server stops taking calls).
func TestServeReadinessDuringShutdown(t *testing.T) {
	inst := start(t, 2*time.Second)
	_, cookie := browserLogin(t, inst)
	// A check held at the provider keeps the HTTP server draining while we look.
	inst.idp.SetTokenDelay(3 * time.Second)
	done := make(chan struct{})
	go func() { traefikAuth(t, inst, cookie, "text/html"); close(done) }()
	require.Eventually(t, func() bool { return inst.idp.Stats().TokenCalls["refresh_token"] == 1 }, 5*time.Second, 5*time.Millisecond)
	stopped := make(chan error, 1)
	go func() { stopped <- inst.stop() }()
	var body string
	require.Eventually(t, func() bool {
		var code int
		code, body = get(t, inst.admin+"/readyz?verbose")
		return code == http.StatusServiceUnavailable
	}, 5*time.Second, 5*time.Millisecond)
	require.Equal(t, "[+]store ok\n[+]provider ok (not required)\n[-]shutting down\nreadyz: not ready\n", body)
	<-done
	require.NoError(t, <-stopped)
}

// TestServePanicRecoveryWired: every listener's handlers run under the recovery (its series exist from
// the start); pkg/recovery's tests inject the panics.
func TestServePanicRecoveryWired(t *testing.T) {
	inst := start(t, time.Hour)
	_, metrics := get(t, inst.admin+"/metrics")
	for _, l := range []string{"grpc", "http", "admin"} {
		require.Contains(t, metrics, `authbridge_panics_total{listener="`+l+`"} 0`)
	}
}
