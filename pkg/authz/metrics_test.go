package authz_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/internal/redistest"
	"github.com/authbridge/authbridge/pkg/authz"
	"github.com/authbridge/authbridge/pkg/session"
)

// series reads every sample of reg as "name{k=v,...}" → value (histograms: their count), labels in
// the registry's order.
func series(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, lp := range m.GetLabel() {
				ls = append(ls, lp.GetName()+"="+lp.GetValue())
			}
			v := m.GetCounter().GetValue()
			if h := m.GetHistogram(); h != nil {
				v = float64(h.GetSampleCount())
			}
			out[mf.GetName()+"{"+strings.Join(ls, ",")+"}"] = v
		}
	}
	return out
}

// moved is what changed between two readings of series.
func moved(before, after map[string]float64) map[string]float64 {
	d := map[string]float64{}
	for k, v := range after {
		if v != before[k] {
			d[k] = v - before[k]
		}
	}
	return d
}

func metricsEnv(t *testing.T, o enginetest.Options) (*enginetest.Env, *prometheus.Registry) {
	reg := prometheus.NewRegistry()
	o.Engine.Metrics = authz.NewMetrics(reg)
	return enginetest.New(t, o), reg
}

func decided(front, outcome, reason string) string {
	return "authbridge_decisions_total{front=" + front + ",outcome=" + outcome + ",reason=" + reason + "}"
}

func latency(front string) string { return "authbridge_decision_duration_seconds{front=" + front + "}" }

// TestDecisionMetrics: each kind of decision moves its own series (front, outcome, reason class) and the
// latency of its front, and nothing else but the login counters it implies. No label value comes from the
// request: hostile hosts, paths and cookies leave the set of series as it was.
func TestDecisionMetrics(t *testing.T) {
	env, reg := metricsEnv(t, enginetest.Options{})
	cookie, _ := env.Login(t, "/")
	as := func(front string, r *authz.Request) *authz.Request { r.Front = front; return r }
	xhr := func(uri, cookie string) *authz.Request {
		return &authz.Request{Method: "POST", Scheme: "https", Host: enginetest.AppHost, URI: uri, Accept: "application/json", Cookie: cookie}
	}
	tests := []struct {
		name string
		req  *authz.Request
		want map[string]float64
	}{
		{"valid session", as(authz.FrontExtAuthz, enginetest.Navigate("/", cookie)),
			map[string]float64{decided("extauthz", "allow", "session"): 1, latency("extauthz"): 1}},
		{"browser without session", as(authz.FrontForwardAuth, enginetest.Navigate("/dash?x=<script>", "")),
			map[string]float64{decided("forwardauth", "redirect", "login"): 1, latency("forwardauth"): 1, "authbridge_logins_started_total{}": 1}},
		{"API call without session", as(authz.FrontForwardAuth, xhr("/api", "")),
			map[string]float64{decided("forwardauth", "deny", "unauthenticated"): 1, latency("forwardauth"): 1}},
		{"nginx without session", func() *authz.Request {
			r := as(authz.FrontNginx, enginetest.Navigate("/", "authbridge=forged"))
			r.NoRedirect = true
			return r
		}(), map[string]float64{decided("nginx", "deny", "unauthenticated"): 1, latency("nginx"): 1}},
		{"cookie header too large", as(authz.FrontExtAuthz, enginetest.Navigate("/", "a="+strings.Repeat("x", 20<<10))),
			map[string]float64{decided("extauthz", "deny", "too_large"): 1, latency("extauthz"): 1}},
		{"ambiguous return URL", as(authz.FrontHTTP, enginetest.Navigate("/oauth2/start?rd=/a&rd=/b", "")),
			map[string]float64{decided("http", "deny", "bad_request"): 1, latency("http"): 1}},
		{"cross-site sign-out", as(authz.FrontHTTP, func() *authz.Request {
			r := xhr("/oauth2/sign_out", cookie)
			r.FetchSite, r.Origin = "cross-site", "https://evil.test"
			return r
		}()), map[string]float64{decided("http", "deny", "signout_refused"): 1, latency("http"): 1}},
		{"unknown front: logins still counted, no series of its own", as("evil\"front", enginetest.Navigate("/", "")),
			map[string]float64{"authbridge_logins_started_total{}": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := series(t, reg)
			_, err := env.Engine.Decide(context.Background(), tt.req)
			require.NoError(t, err)
			after := series(t, reg)
			require.Equal(t, tt.want, moved(before, after))
			require.Len(t, after, len(before), "no new series")
		})
	}

	t.Run("front refusals", func(t *testing.T) {
		before := series(t, reg)
		env.Engine.Refused(authz.FrontExtAuthz, authz.RefusedBadRequest)
		env.Engine.Refused(authz.FrontForwardAuth, authz.RefusedUntrusted)
		env.Engine.Refused("not-a-front", authz.RefusedBadRequest)
		require.Equal(t, map[string]float64{decided("extauthz", "deny", "bad_request"): 1,
			decided("forwardauth", "deny", "untrusted_peer"): 1}, moved(before, series(t, reg)))
	})
}

// TestDecisionMetricsForbidden: a route rule's refusal is deny/forbidden.
func TestDecisionMetricsForbidden(t *testing.T) {
	env, reg := metricsEnv(t, enginetest.Options{
		Engine: authz.Options{Policy: authz.Policy{Groups: []string{"nobody"}}}})
	cookie, _ := env.Login(t, "/")
	r := enginetest.Navigate("/", cookie)
	r.Front = authz.FrontExtAuthz
	before := series(t, reg)
	_, err := env.Engine.Decide(context.Background(), r)
	require.NoError(t, err)
	require.Equal(t, map[string]float64{decided("extauthz", "deny", "forbidden"): 1, latency("extauthz"): 1}, moved(before, series(t, reg)))
}

// TestLoginMetrics: a login counts started and completed; each way a callback fails counts its reason.
func TestLoginMetrics(t *testing.T) {
	env, reg := metricsEnv(t, enginetest.Options{})
	failed := func(reason string) string { return "authbridge_logins_failed_total{reason=" + reason + "}" }
	before := series(t, reg)
	env.Login(t, "/")
	require.Equal(t, 1.0, moved(before, series(t, reg))["authbridge_logins_started_total{}"])
	require.Equal(t, 1.0, moved(before, series(t, reg))["authbridge_logins_completed_total{}"])

	ctx := context.Background()
	start := func() (cookie, callback string) {
		d, err := env.Engine.Decide(ctx, enginetest.Navigate("/", ""))
		require.NoError(t, err)
		return enginetest.CookieHeader(d.Cookies), env.FollowToProvider(t, d.Location)
	}
	tests := []struct {
		name   string
		run    func() *authz.Request
		reason string
	}{
		{"code used twice: the provider refuses it", func() *authz.Request {
			c, uri := start()
			_, err := env.Engine.Decide(ctx, enginetest.Navigate(uri, c))
			require.NoError(t, err)
			return enginetest.Navigate(uri, c)
		}, "refused"},
		{"another browser", func() *authz.Request { _, uri := start(); return enginetest.Navigate(uri, "") }, "no_pending_login"},
		{"provider error", func() *authz.Request {
			c, uri := start()
			u, _ := url.Parse(uri)
			return enginetest.Navigate("/oauth2/callback?error=access_denied&state="+u.Query().Get("state"), c)
		}, "provider_error"},
		{"expired", func() *authz.Request {
			c, uri := start()
			env.Clock.Advance(11 * time.Minute)
			return enginetest.Navigate(uri, c)
		}, "expired"},
		{"repeated code", func() *authz.Request {
			c, uri := start()
			return enginetest.Navigate(uri+"&code=again", c)
		}, "invalid_callback"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.run()
			before := series(t, reg)
			_, err := env.Engine.Decide(ctx, r)
			require.NoError(t, err)
			require.Equal(t, map[string]float64{failed(tt.reason): 1}, moved(before, series(t, reg)))
		})
	}
}

func refreshed(result string) string { return "authbridge_refreshes_total{result=" + result + "}" }

// TestRefreshMetrics: one refresh per session whatever the number of waiting requests (ok on the replica
// that called the provider, waited on the others); a provider answering 503 is provider_down (the
// current token still serves); a revoked refresh token is invalid_grant.
func TestRefreshMetrics(t *testing.T) {
	store := redisStore(t)
	env, reg := metricsEnv(t, enginetest.Options{Store: store, TokenTTL: 10 * time.Minute,
		Engine: authz.Options{Refresh: authz.RefreshOptions{Lease: 300 * time.Millisecond, Wait: 3 * time.Second}}})
	regs := []*prometheus.Registry{reg, prometheus.NewRegistry(), prometheus.NewRegistry()}
	replicas := []*authz.Engine{env.Engine,
		env.ReplicaWith(t, func(o *authz.Options) { o.Metrics = authz.NewMetrics(regs[1]) }),
		env.ReplicaWith(t, func(o *authz.Options) { o.Metrics = authz.NewMetrics(regs[2]) })}
	total := func(result string) float64 {
		var n float64
		for _, r := range regs {
			n += series(t, r)[refreshed(result)]
		}
		return n
	}
	cookie, _ := env.Login(t, "/")
	env.Clock.Advance(11 * time.Minute) // expired: every request waits for the refresh
	env.IDP.SetTokenDelay(200 * time.Millisecond)
	fire(t, replicas, cookie, 60)
	require.Equal(t, 1, env.IDP.Stats().TokenCalls["refresh_token"])
	require.EqualValues(t, 1, total("ok"))
	require.EqualValues(t, 2, total("waited"), "one refresh per replica: the other two used the stored tokens")
	env.IDP.SetTokenDelay(0)

	env.Clock.Advance(9*time.Minute + 30*time.Second) // due, not yet expired
	env.IDP.SetTokenDown(true)
	allow(t, env, cookie)
	require.EqualValues(t, 1, total("provider_down"))
	env.IDP.SetTokenDown(false)

	env.IDP.RevokeUser(enginetest.Alice.Subject)
	require.True(t, status401(t, env, cookie))
	require.EqualValues(t, 1, total("invalid_grant"))
	require.Zero(t, total("store_error"))
}

// TestBackchannelMetrics: back-channel logouts by result, with the store a real Redis that is stopped
// for the last one.
func TestBackchannelMetrics(t *testing.T) {
	rs := redistest.Start(t)
	env, reg := metricsEnv(t, enginetest.Options{Store: session.NewRedisStore(redisClient(t, rs), "")})
	cookie, _ := env.Login(t, "/")
	ctx := context.Background()
	result := func(r string) float64 { return series(t, reg)["authbridge_backchannel_logouts_total{result="+r+"}"] }
	tok, err := env.IDP.LogoutToken(enginetest.ClientID, enginetest.Alice.Subject, sidOf(t, env, cookie))
	require.NoError(t, err)
	_, err = env.Engine.BackchannelLogout(ctx, tok)
	require.NoError(t, err)
	_, err = env.Engine.BackchannelLogout(ctx, tok)
	require.ErrorIs(t, err, authz.ErrLogoutToken)
	_, err = env.Engine.BackchannelLogout(ctx, "not.a.token")
	require.ErrorIs(t, err, authz.ErrLogoutToken)
	tok2, err := env.IDP.LogoutToken(enginetest.ClientID, enginetest.Alice.Subject, "")
	require.NoError(t, err)
	rs.Stop()
	_, err = env.Engine.BackchannelLogout(ctx, tok2)
	require.Error(t, err)
	require.NotErrorIs(t, err, authz.ErrLogoutToken)
	for r, want := range map[string]float64{"ok": 1, "replayed": 1, "refused": 1, "unavailable": 1} {
		require.Equal(t, want, result(r), r)
	}

	// Redis is down: a decision is error/unavailable.
	r := enginetest.Navigate("/", cookie)
	r.Front = authz.FrontExtAuthz
	_, err = env.Engine.Decide(ctx, r)
	require.Error(t, err)
	require.EqualValues(t, 1, series(t, reg)[decided("extauthz", "error", "unavailable")])
}

func redisClient(t *testing.T, rs *redistest.Server) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: rs.Addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestRefreshMetricsLeaseLost: when another replica takes the refresh lease while this one is at a slow
// provider (its lease lapsed and was taken), the refresh counts as lease_lost, not ok.
func TestRefreshMetricsLeaseLost(t *testing.T) {
	rs := redistest.Start(t)
	env, reg := metricsEnv(t, enginetest.Options{Store: session.NewRedisStore(redisClient(t, rs), ""), TokenTTL: 10 * time.Minute,
		Engine: authz.Options{Refresh: authz.RefreshOptions{Lease: 300 * time.Millisecond, Wait: 3 * time.Second}}})
	cookie, _ := env.Login(t, "/")
	env.Clock.Advance(9*time.Minute + 30*time.Second) // due, not yet expired
	env.IDP.SetTokenDelay(time.Second)
	done := make(chan *authz.Decision, 1)
	go func() {
		d, _ := env.Engine.Decide(context.Background(), enginetest.Navigate("/", cookie))
		done <- d
	}()
	var lease string
	require.Eventually(t, func() bool {
		keys, err := redistest.Do(rs.Addr(), "KEYS", session.DefaultRedisPrefix+"l:*")
		lease = strings.TrimSpace(keys)
		return err == nil && lease != ""
	}, 5*time.Second, 10*time.Millisecond, "the refresh holds its lease")
	_, err := redistest.Do(rs.Addr(), "SET", lease, "another-replica", "PX", "5000")
	require.NoError(t, err)
	d := <-done
	require.NotNil(t, d)
	require.Equal(t, authz.Allow, d.Outcome, "the refreshed token still serves this request")
	require.EqualValues(t, 1, series(t, reg)[refreshed("lease_lost")])
	require.Zero(t, series(t, reg)[refreshed("ok")])
}

// TestDecisionMetricsClasses: the remaining reason classes, each from the engine's own decision: a
// public route, a bearer token accepted and refused, a route name the configuration lacks, a sign-out,
// and a finished login.
func TestDecisionMetricsClasses(t *testing.T) {
	env, reg := metricsEnv(t, enginetest.Options{Bearer: true, Engine: authz.Options{Policy: authz.Policy{
		Routes: []authz.Route{{Path: "/public", Public: true}, {Path: "/"}}}}})
	cookie, _ := env.Login(t, "/")
	api := func(authorization string) *authz.Request {
		r := apiCall("GET", "/api", authorization)
		r.Front = authz.FrontExtAuthz
		return r
	}
	nav := func(uri, cookie string) *authz.Request {
		r := enginetest.Navigate(uri, cookie)
		r.Front = authz.FrontHTTP
		return r
	}
	start, err := env.Engine.Decide(context.Background(), nav("/", ""))
	require.NoError(t, err)
	callback := env.FollowToProvider(t, start.Location)
	tests := []struct {
		name string
		req  *authz.Request
		want string
	}{
		{"public route", nav("/public/logo.png", ""), decided("http", "allow", "public")},
		{"valid bearer token", api("Bearer " + accessToken(t, env, "alice")), decided("extauthz", "allow", "bearer")},
		{"refused bearer token", api("Bearer " + signAPI(t, env, map[string]any{"aud": "https://other.test"})), decided("extauthz", "deny", "bearer_refused")},
		{"malformed bearer credential", api("Bearer a b"), decided("extauthz", "deny", "bad_request")},
		{"unknown route name", func() *authz.Request { r := nav("/", cookie); r.Route = "nope"; return r }(), decided("http", "deny", "misconfigured")},
		{"login finished", nav(callback, enginetest.CookieHeader(start.Cookies)), decided("http", "redirect", "login_complete")},
		{"sign-out", nav("/oauth2/sign_out", cookie), decided("http", "redirect", "signed_out")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := series(t, reg)
			_, err := env.Engine.Decide(context.Background(), tt.req)
			require.NoError(t, err)
			got := moved(before, series(t, reg))
			require.Equal(t, 1.0, got[tt.want], "moved: %v", got)
			var decisions int
			for k := range got {
				if strings.HasPrefix(k, "authbridge_decisions_total") {
					decisions++
				}
			}
			require.Equal(t, 1, decisions, "one decision series moved: %v", got)
		})
	}
}
