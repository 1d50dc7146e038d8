package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/authbridge/authbridge/pkg/session"
)

// envoyBudget is Envoy's default ext_authz timeout: past it Envoy gives up on authbridge.
// The assertions allow twice that (envoySlack) so that a loaded CI machine's scheduling does not fail
// them; the unbounded behaviour they guard against took over a second. The measured figures are logged.
const (
	envoyBudget = 200 * time.Millisecond
	envoySlack  = 2 * envoyBudget
)

// stallTimeout is session.redis.timeout in these tests: below the 150ms default, so that the 200ms bound
// holds with a margin for a busy, shared 2-core machine (alone, the default measures 155–180 ms).
const stallTimeout = "AUTHBRIDGE_SESSION_REDIS_TIMEOUT=100ms"

// answer is what one front said about one check, reduced to what these tests compare.
type answer struct {
	status  int  // HTTP status the browser would see
	bearer  bool // an Authorization header for the upstream
	cookies bool // a Set-Cookie for the browser
	took    time.Duration
}

// fronts asks the same logged-in navigation through both fronts: forward-auth /auth as Traefik does, and
// gRPC Check with a CheckRequest shaped as Envoy sends it.
type fronts struct {
	t      *testing.T
	inst   *instance
	cookie *http.Cookie
	grpc   authv3.AuthorizationClient
}

func newFronts(t *testing.T, inst *instance, cookie *http.Cookie) *fronts {
	conn, err := grpc.NewClient(inst.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return &fronts{t: t, inst: inst, cookie: cookie, grpc: authv3.NewAuthorizationClient(conn)}
}

func (f *fronts) forwardAuth() answer {
	start := time.Now()
	resp := traefikAuth(f.t, f.inst, f.cookie, "text/html")
	return answer{status: resp.StatusCode, bearer: resp.Header.Get("Authorization") != "",
		cookies: len(resp.Header.Values("Set-Cookie")) > 0, took: time.Since(start)}
}

func (f *fronts) check() answer {
	req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
			SocketAddress: &corev3.SocketAddress{Address: "203.0.113.7", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 52944}}}}},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id: "16020488217766432512", Method: "GET", Path: "/dashboard", Host: "app.test", Scheme: "https", Protocol: "HTTP/2",
			Headers: map[string]string{
				":authority": "app.test", ":method": "GET", ":path": "/dashboard", ":scheme": "https",
				"accept": "text/html,application/xhtml+xml", "sec-fetch-mode": "navigate",
				"cookie": f.cookie.Name + "=" + f.cookie.Value, "x-forwarded-proto": "https",
				"x-request-id": "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c",
			},
		}},
	}}
	// Generous deadline: the test measures how long authbridge takes, rather than letting gRPC cut it.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	resp, err := f.grpc.Check(ctx, req)
	took := time.Since(start)
	require.NoError(f.t, err, "authbridge answers in band, never with a gRPC error")
	a := answer{took: took}
	if ok := resp.GetOkResponse(); ok != nil {
		require.Equal(f.t, int32(codes.OK), resp.GetStatus().GetCode())
		a.status = http.StatusOK
		for _, h := range ok.GetHeaders() {
			a.bearer = a.bearer || strings.EqualFold(h.GetHeader().GetKey(), "authorization")
		}
		return a
	}
	den := resp.GetDeniedResponse()
	a.status = int(den.GetStatus().GetCode())
	if a.status == http.StatusServiceUnavailable {
		require.Equal(f.t, int32(codes.Unavailable), resp.GetStatus().GetCode())
	}
	for _, h := range den.GetHeaders() {
		a.cookies = a.cookies || strings.EqualFold(h.GetHeader().GetKey(), "set-cookie")
	}
	return a
}

// requireUnavailable checks a fail-closed answer: 503, no token, no cookie change.
func requireUnavailable(t *testing.T, front string, a answer) {
	t.Helper()
	require.Equal(t, http.StatusServiceUnavailable, a.status, front)
	require.False(t, a.bearer, front)
	require.False(t, a.cookies, "%s: a stalled store never clears the cookie", front)
}

// requireBothAllow waits until both fronts allow the session again.
func (f *fronts) requireBothAllow(msg string) {
	require.Eventually(f.t, func() bool {
		return f.forwardAuth().status == http.StatusOK && f.check().status == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond, msg)
}

// TestServeStalledRedisWithoutCache: with Redis frozen (SIGSTOP, connections open) and no session cache,
// every check on both fronts answers 503 within Envoy's default 200 ms budget, and the same session works
// again once Redis resumes.
func TestServeStalledRedisWithoutCache(t *testing.T) {
	inst := start(t, time.Hour, "AUTHBRIDGE_SESSION_CACHE_TTL=0", stallTimeout)
	_, cookie := browserLogin(t, inst)
	f := newFronts(t, inst, cookie)
	f.requireBothAllow("logged in")

	inst.redis.Pause()
	var worstHTTP, worstGRPC time.Duration
	const rounds = 25 // 50 checks
	for range rounds {
		a := f.forwardAuth()
		requireUnavailable(t, "forwardauth", a)
		worstHTTP = max(worstHTTP, a.took)
		a = f.check()
		requireUnavailable(t, "extauthz", a)
		worstGRPC = max(worstGRPC, a.took)
	}
	t.Logf("stalled Redis, no cache, %s: worst of %d checks per front: forwardauth %s, extauthz %s",
		stallTimeout, rounds, worstHTTP, worstGRPC)
	require.Less(t, worstHTTP, envoySlack)
	require.Less(t, worstGRPC, envoySlack)
	require.Equal(t, http.StatusServiceUnavailable, status(t, inst.admin+"/readyz"))

	inst.redis.Resume()
	f.requireBothAllow("the same session works once Redis runs again")
}

// TestServeStalledRedisWithCache: a session served from the cache keeps being allowed for at most
// session.CacheLivenessBound after Redis freezes; from then on both fronts answer 503 (never a login, a
// 401 or a cleared cookie) within Envoy's budget, and once Redis resumes the session works again.
func TestServeStalledRedisWithCache(t *testing.T) {
	inst := start(t, time.Hour, "AUTHBRIDGE_SESSION_CACHE_TTL=1h", stallTimeout)
	_, cookie := browserLogin(t, inst)
	f := newFronts(t, inst, cookie)
	f.requireBothAllow("logged in")

	inst.redis.Pause()
	paused := time.Now()
	var lastAllow, firstError, worstError time.Duration
	for time.Since(paused) < 2*time.Second {
		for front, ask := range map[string]func() answer{"forwardauth": f.forwardAuth, "extauthz": f.check} {
			began := time.Since(paused) // an allow was decided after this; a busy machine may delay its return
			a := ask()
			since := time.Since(paused)
			if a.status == http.StatusOK {
				require.Zero(t, firstError, "%s allowed at %s after the first 503 at %s", front, began, firstError)
				lastAllow = began
				continue
			}
			requireUnavailable(t, front, a)
			if firstError == 0 {
				firstError = since
			} else {
				worstError = max(worstError, a.took) // the first may have begun as a cache hit's wait
			}
		}
	}
	t.Logf("stalled Redis, cache on: last allow %s after the freeze (bound %s), first 503 at %s, worst 503 after that %s",
		lastAllow, session.CacheLivenessBound, firstError, worstError)
	require.Less(t, lastAllow, session.CacheLivenessBound+100*time.Millisecond)
	require.NotZero(t, firstError)
	require.Less(t, firstError, time.Second)
	require.Less(t, worstError, envoySlack)

	inst.redis.Resume()
	f.requireBothAllow("the same session works once Redis runs again")
}
