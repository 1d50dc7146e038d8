package authz_test

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/internal/redistest"
	"github.com/authbridge/authbridge/pkg/authz"
	"github.com/authbridge/authbridge/pkg/session"
)

// redisStore is a RedisStore on a real redis-server started for this test.
func redisStore(t *testing.T) *session.RedisStore {
	rs := redistest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: rs.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	return session.NewRedisStore(c, "")
}

// TestRefreshOncePerSessionAcrossReplicas: 200 concurrent requests on one session whose token is about
// to expire (or has), spread over 3 replicas sharing one Redis, make exactly one token-endpoint call;
// every request is allowed with the new token; the token family is not revoked. Also with a provider
// slower than the refresh lease, which the holder must keep renewing.
func TestRefreshOncePerSessionAcrossReplicas(t *testing.T) {
	tests := []struct {
		name    string
		advance time.Duration // from login; the token lives 10 minutes, refresh_ahead is 1 minute
		delay   time.Duration // token endpoint delay
	}{
		{"about to expire", 9*time.Minute + 30*time.Second, 0},
		{"already expired", 11 * time.Minute, 0},
		{"provider slower than the lease", 9*time.Minute + 30*time.Second, 2500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A 1 s lease (renewed every third): short enough that the slow provider outlives it twice, long
			// enough that a loaded CI machine running 200 checks under -race does not miss a renewal.
			env := enginetest.New(t, enginetest.Options{Store: redisStore(t), TokenTTL: 10 * time.Minute,
				Engine: authz.Options{Refresh: authz.RefreshOptions{Lease: time.Second, Wait: 6 * time.Second}}})
			replicas := []*authz.Engine{env.Engine, env.Replica(t), env.Replica(t)}
			cookie, _ := env.Login(t, "/")
			old := allow(t, env, cookie)
			env.Clock.Advance(tt.advance)
			env.IDP.SetTokenDelay(tt.delay)

			tokens, waited := fire(t, replicas, cookie, 200)
			for _, tok := range tokens {
				require.NotEqual(t, old, tok, "every request carries the new token")
				require.Equal(t, tokens[0], tok)
			}
			st := env.IDP.Stats()
			require.Equal(t, 1, st.TokenCalls["refresh_token"], "exactly one token-endpoint call")
			require.Zero(t, st.RevokedFamilies, "the token family is not revoked")

			env.IDP.SetTokenDelay(0)
			_, after := fire(t, replicas, cookie, 200)
			require.Equal(t, 1, env.IDP.Stats().TokenCalls["refresh_token"])
			t.Logf("latency p50/p99: waited on refresh %v/%v, after refresh %v/%v",
				pct(waited, 50), pct(waited, 99), pct(after, 50), pct(after, 99))
		})
	}
}

// fire sends n concurrent browser requests with cookie, spread over the replicas, and returns the
// bearer token each got and how long each took. Every request must be allowed.
func fire(t *testing.T, replicas []*authz.Engine, cookie string, n int) ([]string, []time.Duration) {
	tokens := make([]string, n)
	took := make([]time.Duration, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			<-start
			t0 := time.Now()
			d, err := replicas[i%len(replicas)].Decide(context.Background(), enginetest.Navigate("/", cookie))
			took[i] = time.Since(t0)
			if err != nil {
				errs <- err
				return
			}
			if d.Outcome != authz.Allow {
				errs <- &outcomeError{d}
				return
			}
			tokens[i] = d.Upstream.Get("Authorization")
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	return tokens, took
}

type outcomeError struct{ d *authz.Decision }

func (e *outcomeError) Error() string { return "not allowed: " + e.d.Reason }

func pct(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)*p/100].Round(10 * time.Microsecond)
}

// TestRefreshRacingSignOut: a sign-out while a refresh is at the provider stays final; the refresh's
// write never brings the session back.
func TestRefreshRacingSignOut(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{Store: redisStore(t), TokenTTL: 10 * time.Minute})
	cookie, _ := env.Login(t, "/")
	env.Clock.Advance(11 * time.Minute) // expired: the request must wait for the refresh
	env.IDP.SetTokenDelay(500 * time.Millisecond)

	got := make(chan *authz.Decision, 1)
	go func() {
		d, err := env.Replica(t).Decide(context.Background(), &authz.Request{Method: "GET", Scheme: "https",
			Host: enginetest.AppHost, URI: "/api", Cookie: cookie})
		require.NoError(t, err)
		got <- d
	}()
	require.Eventually(t, func() bool { return env.IDP.Stats().TokenCalls["refresh_token"] == 1 }, 5*time.Second, time.Millisecond)
	d, err := env.Engine.Decide(context.Background(), enginetest.Navigate("/oauth2/sign_out", cookie))
	require.NoError(t, err)
	require.Equal(t, authz.Redirect, d.Outcome)

	d = <-got
	require.Equal(t, authz.Deny, d.Outcome, "the refresh that finished after sign-out does not let the request in")
	require.Equal(t, http.StatusUnauthorized, d.Status)
	d, err = env.Engine.Decide(context.Background(), &authz.Request{Method: "GET", Scheme: "https", Host: enginetest.AppHost, URI: "/api", Cookie: cookie})
	require.NoError(t, err)
	require.Equal(t, http.StatusUnauthorized, d.Status, "the session stays gone")
}

// flakyCAS fails the first compare-and-swap and its retry, like a replica that dies after the provider
// rotated the refresh token but before the new one is stored.
type flakyCAS struct {
	session.Store
	mu     sync.Mutex
	failed int
}

func (f *flakyCAS) CompareAndSwap(ctx context.Context, key string, old, val []byte, ttl time.Duration) (bool, error) {
	f.mu.Lock()
	fail := f.failed < 2
	f.failed++
	f.mu.Unlock()
	if fail {
		return false, errDown
	}
	return f.Store.CompareAndSwap(ctx, key, old, val, ttl)
}

// TestRefreshAfterLostWrite: the rotated refresh token was never stored (the replica died after the
// provider answered). The next replica refreshes with the old token: inside the provider's reuse window
// that works and nobody is logged out; without one, the provider revokes the family and the session ends
// cleanly (login again), never a loop of 503s.
func TestRefreshAfterLostWrite(t *testing.T) {
	for _, tt := range []struct {
		name       string
		window     time.Duration
		wantSecond authz.Outcome
	}{
		{"inside the provider's reuse window", 30 * time.Second, authz.Allow},
		{"provider without a reuse window", 0, authz.Redirect},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store := &flakyCAS{}
			env := enginetest.New(t, enginetest.Options{Store: store, TokenTTL: 10 * time.Minute, ReuseWindow: tt.window,
				Engine: authz.Options{Refresh: authz.RefreshOptions{ReuseWindow: tt.window}}})
			store.Store = session.NewMemoryStore(env.Clock.Now)
			cookie, _ := env.Login(t, "/")
			env.Clock.Advance(9*time.Minute + 30*time.Second)
			first := allow(t, env, cookie) // refreshed at the provider; the store write is lost
			d, err := env.Replica(t).Decide(context.Background(), enginetest.Navigate("/", cookie))
			require.NoError(t, err)
			require.Equal(t, tt.wantSecond, d.Outcome, d.Reason)
			require.Equal(t, 2, env.IDP.Stats().TokenCalls["refresh_token"])
			if tt.wantSecond == authz.Allow {
				require.NotEqual(t, first, d.Upstream.Get("Authorization"))
				require.Zero(t, env.IDP.Stats().RevokedFamilies)
			}
		})
	}
}

// failingRenews makes the first n lease renewals fail as a store timeout would.
type failingRenews struct {
	session.Store
	mu sync.Mutex
	n  int
}

func (f *failingRenews) Renew(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	f.mu.Lock()
	fail := f.n > 0
	f.n--
	f.mu.Unlock()
	if fail {
		return false, context.DeadlineExceeded
	}
	return f.Store.Renew(ctx, key, owner, ttl)
}

// TestRefreshLeaseSurvivesFailedRenewal: a renewal that times out (a Redis hiccup longer than
// session.redis.timeout) does not abandon the lease; the next one keeps it, so no other replica starts a
// second refresh while the provider is still answering the first.
func TestRefreshLeaseSurvivesFailedRenewal(t *testing.T) {
	store := &failingRenews{Store: redisStore(t), n: 1}
	env := enginetest.New(t, enginetest.Options{Store: store, TokenTTL: 10 * time.Minute,
		Engine: authz.Options{Refresh: authz.RefreshOptions{Lease: 300 * time.Millisecond, Wait: 3 * time.Second}}})
	replicas := []*authz.Engine{env.Engine, env.Replica(t)}
	cookie, _ := env.Login(t, "/")
	env.Clock.Advance(9*time.Minute + 30*time.Second)
	env.IDP.SetTokenDelay(800 * time.Millisecond) // several lease lifetimes

	fire(t, replicas, cookie, 20)
	st := env.IDP.Stats()
	require.Equal(t, 1, st.TokenCalls["refresh_token"], "exactly one token-endpoint call")
	require.Zero(t, st.RevokedFamilies)
}

// failingSwaps makes the next n compare-and-swaps fail as a store timeout would, after they have been
// applied when landed is set (the reply, not the write, was lost).
type failingSwaps struct {
	session.Store
	mu     sync.Mutex
	n      int
	landed bool
}

func (f *failingSwaps) CompareAndSwap(ctx context.Context, key string, old, val []byte, ttl time.Duration) (bool, error) {
	f.mu.Lock()
	fail, landed := f.n > 0, f.landed
	f.n--
	f.mu.Unlock()
	if !fail {
		return f.Store.CompareAndSwap(ctx, key, old, val, ttl)
	}
	if landed {
		_, _ = f.Store.CompareAndSwap(ctx, key, old, val, ttl)
	}
	return false, context.DeadlineExceeded
}

// TestRefreshWriteRetried: when storing the rotated tokens times out once, the write is tried again, so
// the session keeps the rotated refresh token and its next refresh succeeds (instead of presenting the
// old one, which rotation refuses), whether or not the timed-out write had landed.
func TestRefreshWriteRetried(t *testing.T) {
	for _, landed := range []bool{false, true} {
		t.Run(map[bool]string{false: "write lost", true: "reply lost"}[landed], func(t *testing.T) {
			store := &failingSwaps{Store: redisStore(t), landed: landed}
			env := enginetest.New(t, enginetest.Options{Store: store, TokenTTL: 10 * time.Minute})
			cookie, _ := env.Login(t, "/")
			first := allow(t, env, cookie)
			for range 2 {
				env.Clock.Advance(9*time.Minute + 30*time.Second)
				store.mu.Lock()
				store.n = 1
				store.mu.Unlock()
				require.NotEqual(t, first, allow(t, env, cookie), "refreshed")
			}
			st := env.IDP.Stats()
			require.Equal(t, 2, st.TokenCalls["refresh_token"])
			require.Zero(t, st.RevokedFamilies)
		})
	}
}

// TestRefreshRate: with Refresh.Rate, refresh calls keep to the rate. A session whose turn comes later
// than Refresh.Wait keeps its still-valid token (allowed, not signed out) and is refreshed by a later
// check; one whose token has expired waits for its turn and is then refreshed.
func TestRefreshRate(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{TokenTTL: 10 * time.Minute,
		Engine: authz.Options{Refresh: authz.RefreshOptions{Rate: 1, Wait: 100 * time.Millisecond}}})
	calls := func() int { return env.IDP.Stats().TokenCalls["refresh_token"] }
	c1, _ := env.Login(t, "/")
	c2, _ := env.Login(t, "/")
	old1, old2 := allow(t, env, c1), allow(t, env, c2)

	env.Clock.Advance(9*time.Minute + 30*time.Second) // both due, neither expired
	require.NotEqual(t, old1, allow(t, env, c1), "the first refresh goes at once")
	require.Equal(t, old2, allow(t, env, c2), "the second would wait a second: put off, the token still works")
	require.Equal(t, 1, calls())
	env.Clock.Advance(time.Second)
	require.NotEqual(t, old2, allow(t, env, c2), "its turn has come")
	require.Equal(t, 2, calls())

	c3, _ := env.Login(t, "/")
	c4, _ := env.Login(t, "/")
	old3, old4 := allow(t, env, c3), allow(t, env, c4)
	env.Clock.Advance(11 * time.Minute) // both expired
	require.NotEqual(t, old3, allow(t, env, c3))
	start := time.Now()
	require.NotEqual(t, old4, allow(t, env, c4), "an expired token waits for its turn, then is refreshed")
	require.GreaterOrEqual(t, time.Since(start), 900*time.Millisecond, "it waited for the next second")
	require.Equal(t, 4, calls())
}

// TestRefreshFailedNeverForwardsExpiredToken: a refresh that fails (provider down) falls back to the
// current token only while it still works when the refresh ends, not when the request came in: a slow
// provider, a wait for another replica or for the refresh rate must not let an expired token through.
func TestRefreshFailedNeverForwardsExpiredToken(t *testing.T) {
	for _, tc := range []struct {
		name    string
		advance time.Duration // of the clock while the refresh runs, from 30 s before expiry
		allowed bool
	}{
		{"token still works after the refresh", 10 * time.Second, true},
		{"token expired during the refresh", time.Minute, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := enginetest.New(t, enginetest.Options{TokenTTL: 10 * time.Minute})
			cookie, _ := env.Login(t, "/")
			old := allow(t, env, cookie)
			env.Clock.Advance(9*time.Minute + 30*time.Second) // due, not expired
			env.IDP.SetTokenDown(true)
			env.IDP.SetTokenDelay(300 * time.Millisecond)
			go func() {
				time.Sleep(100 * time.Millisecond) // the refresh is under way
				env.Clock.Advance(tc.advance)
			}()
			d, err := env.Engine.Decide(ctx, enginetest.Navigate("/", cookie))
			if tc.allowed {
				require.NoError(t, err)
				require.Equal(t, authz.Allow, d.Outcome)
				require.Equal(t, old, d.Upstream.Get("Authorization"))
				return
			}
			require.Error(t, err, "fail closed (503)")
			if d != nil {
				require.NotEqual(t, authz.Allow, d.Outcome, "an expired token is never forwarded")
			}
		})
	}
}
