package main

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/authbridge/authbridge/internal/redistest"
	"github.com/authbridge/authbridge/internal/testca"
	"github.com/authbridge/authbridge/pkg/config"
	"github.com/authbridge/authbridge/pkg/devidp"
	"github.com/authbridge/authbridge/pkg/server"
	"github.com/authbridge/authbridge/pkg/session"

	"github.com/authbridge/authbridge/internal/logbuf"
)

// instance is a running `authbridge serve` wired to a real redis-server and the development provider.
type instance struct {
	http, forwardAuth string // base URLs of the browser-facing and the gateway-only HTTP listeners
	grpc, admin       string // address / base URL
	idpURL            string
	idpSrv            *httptest.Server
	redis             *redistest.Server
	idp               *devidp.IDP
	logs              *logbuf.Buffer
	stop              func() error
	browser           http.RoundTripper // the test browser's transport; nil: http.DefaultTransport
}

const (
	testSecret = "s3cr3t-client-value"
	adminToken = "adm1n-t0ken-value"
	// testCookieSecret seals the pending-login cookies (session.cookie.secret).
	testCookieSecret = "c00kie-secret-value-of-at-least-32-chars"
)

func listen(t *testing.T) net.Listener {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return l
}

func start(t *testing.T, tokenTTL time.Duration, env ...string) *instance {
	t.Helper()
	return startWith(t, tokenTTL, nil, nil, env...)
}

// startTuned is start with the server's options adjusted by tune (nil: as serve builds them).
func startTuned(t *testing.T, tokenTTL time.Duration, tune func(*server.Options), env ...string) *instance {
	t.Helper()
	return startWith(t, tokenTTL, nil, tune, env...)
}

// startWith is startTuned with, when ca is set, the provider served over https and Redis over TLS
// requiring a client certificate, both with certificates from ca, and authbridge given ca and its client
// pair through oidc.ca_file and session.redis.tls.*.
func startWith(t *testing.T, tokenTTL time.Duration, ca *testca.CA, tune func(*server.Options), env ...string) *instance {
	t.Helper()
	var rs *redistest.Server
	redisURL := ""
	idpSrv := httptest.NewUnstartedServer(nil)
	var browser http.RoundTripper
	if ca == nil {
		rs = redistest.Start(t)
		redisURL = rs.URL()
		idpSrv.Start()
	} else {
		srv, cli := ca.Server(t, "redis"), ca.Client(t, "authbridge")
		rs = redistest.StartTLS(t, redistest.TLS{CertFile: srv.CertFile, KeyFile: srv.KeyFile, CAFile: ca.CAFile, RequireClientCert: true})
		redisURL = rs.TLSURL()
		env = append(env, "AUTHBRIDGE_OIDC_CA_FILE="+ca.CAFile, "AUTHBRIDGE_SESSION_REDIS_TLS_CA_FILE="+ca.CAFile,
			"AUTHBRIDGE_SESSION_REDIS_TLS_CERT_FILE="+cli.CertFile, "AUTHBRIDGE_SESSION_REDIS_TLS_KEY_FILE="+cli.KeyFile)
		idpSrv.TLS = ca.ServerTLS(t, "idp")
		idpSrv.StartTLS()
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
		browser = tr
	}
	ls := server.Listeners{HTTP: listen(t), ForwardAuth: listen(t), GRPC: listen(t), Admin: listen(t)}
	httpURL := "http://" + ls.HTTP.Addr().String()
	t.Cleanup(idpSrv.Close)
	idp, err := devidp.New(devidp.Options{
		Issuer: idpSrv.URL + "/",
		Clients: []devidp.Client{{ID: "app", Secret: testSecret, RedirectURIs: []string{httpURL + "/oauth2/callback"},
			LogoutURLs: []string{httpURL + "/"}, BackchannelLogoutURI: httpURL + "/oauth2/backchannel_logout"}},
		Users:     []devidp.User{{Username: "alice", Password: "pw", Email: "alice@example.com"}},
		Audience:  "https://api.test",
		AutoLogin: "alice",
		// A token shorter than refresh_ahead (60s) is refreshed on every use: tests use that to have
		// a request in flight at the provider.
		AccessTokenTTL: tokenTTL,
	})
	require.NoError(t, err)
	idpSrv.Config.Handler = idp.Handler()

	cfg, err := config.Load("", append([]string{
		"AUTHBRIDGE_OIDC_ISSUER_URL=" + idpSrv.URL + "/",
		"AUTHBRIDGE_OIDC_CLIENT_ID=app",
		"AUTHBRIDGE_OIDC_CLIENT_SECRET=" + testSecret,
		"AUTHBRIDGE_OIDC_REDIRECT_URL=" + httpURL + "/oauth2/callback",
		"AUTHBRIDGE_OIDC_AUDIENCE=https://api.test",
		"AUTHBRIDGE_SESSION_REDIS_URL=" + redisURL,
		"AUTHBRIDGE_SESSION_COOKIE_SECRET=" + testCookieSecret,
		"AUTHBRIDGE_SESSION_COOKIE_SECURE=false",
		"AUTHBRIDGE_REDIRECT_ALLOWED_DOMAINS=127.0.0.1,app.test",
		"AUTHBRIDGE_LOG_LEVEL=debug",
		"AUTHBRIDGE_ADMIN_TOKEN=" + adminToken,
	}, env...))
	require.NoError(t, err)
	logs := &logbuf.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		var tunes []func(*server.Options)
		if tune != nil {
			tunes = append(tunes, tune)
		}
		done <- serve(ctx, cfg, ls, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), tunes...)
	}()
	inst := &instance{
		idpURL: idpSrv.URL,
		http:   httpURL, forwardAuth: "http://" + ls.ForwardAuth.Addr().String(),
		grpc: ls.GRPC.Addr().String(), admin: "http://" + ls.Admin.Addr().String(),
		redis: rs, idp: idp, idpSrv: idpSrv, logs: logs, browser: browser,
		stop: sync.OnceValue(func() error {
			cancel()
			select {
			case err := <-done:
				return err
			case <-time.After(20 * time.Second):
				t.Error("serve did not stop")
				return nil
			}
		}),
	}
	t.Cleanup(func() { _ = inst.stop() })
	require.Eventually(t, func() bool {
		resp, err := http.Get(inst.admin + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	}, 10*time.Second, 20*time.Millisecond)
	return inst
}

// browserLogin logs in through /oauth2/start with a cookie-jar client, as a browser would.
func browserLogin(t *testing.T, inst *instance) (*http.Client, *http.Cookie) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Transport: inst.browser, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		if r.URL.Path == "/after" {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err := c.Get(inst.http + "/oauth2/start?rd=/after")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Equal(t, inst.http+"/after", resp.Header.Get("Location"))
	req, _ := http.NewRequest("GET", inst.http, nil)
	for _, ck := range jar.Cookies(req.URL) {
		if ck.Name == "authbridge" {
			return c, ck
		}
	}
	t.Fatal("no session cookie after login")
	return nil, nil
}

// traefikAuth asks /auth as Traefik's forwardAuth middleware does.
func traefikAuth(t *testing.T, inst *instance, cookie *http.Cookie, accept string) *http.Response {
	req, _ := http.NewRequest("GET", inst.forwardAuth+"/auth", nil)
	req.Header.Set("X-Forwarded-Method", "GET")
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header.Set("X-Forwarded-Host", "app.test")
	req.Header.Set("X-Forwarded-Uri", "/dash")
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	req.Header.Set("Accept", accept)
	if cookie != nil {
		req.AddCookie(cookie)
	}
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func status(t *testing.T, url string) int {
	resp, err := http.Get(url)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func TestServeLoginAllowAndRedisOutage(t *testing.T) {
	inst := start(t, time.Hour)
	_, cookie := browserLogin(t, inst)

	resp := traefikAuth(t, inst, cookie, "text/html")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	bearer := resp.Header.Get("Authorization")
	require.True(t, strings.HasPrefix(bearer, "Bearer ey"))
	require.Equal(t, "alice@example.com", resp.Header.Get("X-Auth-Request-Email"))

	require.Equal(t, http.StatusUnauthorized, traefikAuth(t, inst, nil, "application/json").StatusCode)
	require.Equal(t, http.StatusFound, traefikAuth(t, inst, nil, "text/html").StatusCode)
	require.Equal(t, http.StatusOK, status(t, inst.admin+"/readyz"))

	// Redis goes away mid-run (its data saved first, so that a restart brings the session back).
	_, err := redistest.Do(inst.redis.Addr(), "SAVE")
	require.NoError(t, err)
	inst.redis.Stop()
	// The in-process cache may answer for a moment (until it notices its invalidation channel is gone,
	// at most session.CacheLivenessBound); every answer is an allow or a 503, never a login or a cleared cookie.
	require.Eventually(t, func() bool {
		resp = traefikAuth(t, inst, cookie, "text/html")
		require.Contains(t, []int{http.StatusOK, http.StatusServiceUnavailable}, resp.StatusCode, "fail closed: not 401, not 302")
		return resp.StatusCode == http.StatusServiceUnavailable
	}, 5*time.Second, 10*time.Millisecond)
	require.Empty(t, resp.Header.Values("Set-Cookie"), "a transient error never clears the cookie")
	require.Empty(t, resp.Header.Get("Authorization"))
	require.Eventually(t, func() bool { return status(t, inst.admin+"/readyz") == http.StatusServiceUnavailable },
		10*time.Second, 20*time.Millisecond, "the next store probe (every 2s) makes the replica unready")

	inst.redis.Restart()
	require.Eventually(t, func() bool { return traefikAuth(t, inst, cookie, "text/html").StatusCode == http.StatusOK },
		10*time.Second, 50*time.Millisecond, "the same session works again once Redis is back")
	require.Eventually(t, func() bool { return status(t, inst.admin+"/readyz") == http.StatusOK },
		10*time.Second, 20*time.Millisecond)

	resp2, err := http.Get(inst.admin + "/metrics")
	require.NoError(t, err)
	metrics, _ := io.ReadAll(resp2.Body)
	resp2.Body.Close()
	require.Contains(t, string(metrics), `authbridge_decisions_total{front="forwardauth",outcome="allow",reason="session"} `)
	require.Contains(t, string(metrics), `authbridge_decisions_total{front="forwardauth",outcome="error",reason="unavailable"} `)
	require.Contains(t, string(metrics), `authbridge_decision_duration_seconds_bucket{front="forwardauth"`)

	require.NoError(t, inst.stop())
	logs := inst.logs.String()
	require.Contains(t, logs, `"msg":"login"`)
	for name, secret := range map[string]string{
		"cookie value": cookie.Value, "access token": strings.TrimPrefix(bearer, "Bearer "), "client secret": testSecret,
		"cookie secret": testCookieSecret,
	} {
		require.NotContains(t, logs, secret, "the log must not contain the %s", name)
	}
}

func TestServeGRPCHealthAndGracefulStop(t *testing.T) {
	inst := start(t, 2*time.Second)
	conn, err := grpc.NewClient(inst.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	h, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
	require.NoError(t, err)
	require.Equal(t, healthpb.HealthCheckResponse_SERVING, h.GetStatus())

	// A check in flight when shutdown starts still gets its answer: the token endpoint is slowed, so the
	// refresh this request triggers is under way at the provider while the server shuts down.
	_, cookie := browserLogin(t, inst)
	inst.idp.SetTokenDelay(700 * time.Millisecond)
	got := make(chan *http.Response, 1)
	go func() { got <- traefikAuth(t, inst, cookie, "text/html") }()
	require.Eventually(t, func() bool { return inst.idp.Stats().TokenCalls["refresh_token"] == 1 },
		5*time.Second, 5*time.Millisecond, "the request reaches the provider")
	require.NoError(t, inst.stop())
	select {
	case resp := <-got:
		require.Equal(t, http.StatusOK, resp.StatusCode, "drained, not cut off")
		require.True(t, strings.HasPrefix(resp.Header.Get("Authorization"), "Bearer ey"))
	case <-time.After(5 * time.Second):
		t.Fatal("in-flight request was not answered")
	}
	_, err = http.Get(inst.forwardAuth + "/auth")
	require.Error(t, err, "the listener is closed after shutdown")
}

func adminCall(t *testing.T, inst *instance, method, query string) (int, string) {
	req, _ := http.NewRequest(method, inst.admin+"/admin/sessions?"+query, nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServeSignOutEverywhere: the provider's back-channel logout and the admin API both end sessions.
func TestServeSignOutEverywhere(t *testing.T) {
	inst := start(t, time.Hour)
	browser, cookie := browserLogin(t, inst)
	code, body := adminCall(t, inst, "GET", "sub=auth0|alice")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `"sessions":[{"id":`)

	// The user logs out at the provider (another tab, another app): the provider posts a logout token
	// to /oauth2/backchannel_logout and this browser's authbridge session ends too.
	resp, err := browser.Get(inst.idpURL + "/v2/logout?client_id=app")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, http.StatusUnauthorized, traefikAuth(t, inst, cookie, "application/json").StatusCode)
	require.Contains(t, inst.logs.String(), `"msg":"back-channel logout"`)

	// The admin API: list, then end everything of the user.
	_, cookie = browserLogin(t, inst)
	_, cookie2 := browserLogin(t, inst)
	code, body = adminCall(t, inst, "DELETE", "sub=auth0|alice")
	require.Equal(t, http.StatusOK, code)
	require.JSONEq(t, `{"ended":2}`, body)
	require.Equal(t, http.StatusUnauthorized, traefikAuth(t, inst, cookie, "application/json").StatusCode)
	require.Equal(t, http.StatusUnauthorized, traefikAuth(t, inst, cookie2, "application/json").StatusCode)

	req, _ := http.NewRequest("GET", inst.admin+"/admin/sessions?sub=auth0|alice", nil)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "the admin API needs its token")
	require.NotContains(t, inst.logs.String(), adminToken)
}

// TestServeMemoryStore: a single replica with the memory store logs in and allows, and its store's
// sweeper runs with the servers (and stops with them).
func TestServeMemoryStore(t *testing.T) {
	var store *session.MemoryStore
	inst := startTuned(t, time.Hour, func(o *server.Options) {
		store = o.Store.(*session.MemoryStore) // serve built a memory store
		store.SetSweepEvery(5 * time.Millisecond)
	}, "AUTHBRIDGE_SESSION_STORE=memory")
	_, cookie := browserLogin(t, inst)
	resp := traefikAuth(t, inst, cookie, "text/html")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	inst.redis.Stop() // not used by this instance: nothing changes
	require.Equal(t, http.StatusOK, traefikAuth(t, inst, cookie, "text/html").StatusCode)
	require.Equal(t, http.StatusOK, status(t, inst.admin+"/readyz"))

	n := store.Len()
	require.NoError(t, store.Put(context.Background(), "expires-at-once", []byte("x"), time.Millisecond))
	require.Eventually(t, func() bool { return store.Len() == n }, 5*time.Second, 5*time.Millisecond,
		"the sweeper frees the expired entry, and only it")
	require.Equal(t, http.StatusOK, traefikAuth(t, inst, cookie, "text/html").StatusCode, "the session survives sweeps")
	require.NoError(t, inst.stop())
}

// TestServeOptionsZeros: a zero that the configuration accepts reaches the wiring unchanged, where it
// means what the key's help says (cache off, refresh only once expired, no reuse window), never a
// leaf package's default.
func TestServeOptionsZeros(t *testing.T) {
	cfg, err := config.Load("", []string{
		"AUTHBRIDGE_OIDC_ISSUER_URL=https://idp.example.com/",
		"AUTHBRIDGE_OIDC_CLIENT_ID=app",
		"AUTHBRIDGE_OIDC_REDIRECT_URL=https://auth.example.com/oauth2/callback",
		"AUTHBRIDGE_SESSION_STORE=memory",
		"AUTHBRIDGE_SESSION_CACHE_TTL=0",
		"AUTHBRIDGE_SESSION_REFRESH_AHEAD=0",
		"AUTHBRIDGE_SESSION_REFRESH_REUSE_WINDOW=0",
		"AUTHBRIDGE_SESSION_LOGINS_PER_CLIENT=0",
	})
	require.NoError(t, err)
	ls := server.Listeners{HTTP: listen(t), ForwardAuth: listen(t), GRPC: listen(t), Admin: listen(t)}
	for _, l := range []net.Listener{ls.HTTP, ls.ForwardAuth, ls.GRPC, ls.Admin} {
		t.Cleanup(func() { _ = l.Close() })
	}
	o, closeStore, err := serveOptions(cfg, ls, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer closeStore()
	require.Zero(t, o.Cache.TTL, "server.Options.Cache: a zero TTL turns the cache off")
	require.Zero(t, o.Engine.Lifetimes.RefreshAhead, "authz: refresh only once expired")
	require.Zero(t, o.Engine.Refresh.ReuseWindow, "authz: the provider has no reuse window")
	require.Empty(t, cfg.Warnings(), "logins_per_client 0 is as good as absent")
}
