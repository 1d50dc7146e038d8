package session

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/redistest"
)

// counter reads one series of a counter or the sample count of a histogram on reg.
func counter(t *testing.T, reg *prometheus.Registry, name string, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					if h := m.GetHistogram(); h != nil {
						return float64(h.GetSampleCount())
					}
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no series %s{%s=%q}", name, label, value)
	return 0
}

// TestStoreMetricsRedis: each Store call of a real Redis is timed under its operation; a missing session
// is an answer, not an error; with redis-server stopped, the failing calls count as errors of their
// operation.
func TestStoreMetricsRedis(t *testing.T) {
	srv := redistest.Start(t)
	reg := prometheus.NewRegistry()
	m := NewSessions(NewRedisStore(redisClient(t, srv), ""))
	m.EnableMetrics(reg)
	ctx := t.Context()
	tk := newTicket(t)
	now := time.Now()

	require.NoError(t, m.Save(ctx, tk, &Session{Subject: "alice", AccessToken: "at", CreatedAt: now, Touched: now}, time.Hour))
	_, err := m.Load(ctx, tk)
	require.NoError(t, err)
	_, err = m.Load(ctx, newTicket(t))
	require.ErrorIs(t, err, ErrNotFound)
	require.EqualValues(t, 2, counter(t, reg, "authbridge_store_operation_duration_seconds", "operation", "get"))
	require.EqualValues(t, 1, counter(t, reg, "authbridge_store_operation_duration_seconds", "operation", "put"))
	require.EqualValues(t, 1, counter(t, reg, "authbridge_store_operation_duration_seconds", "operation", "index_add"), "indexed by subject")
	require.Zero(t, counter(t, reg, "authbridge_store_errors_total", "operation", "get"), "not found is no error")

	srv.Stop()
	_, err = m.Load(ctx, tk)
	require.Error(t, err)
	require.NotErrorIs(t, err, ErrNotFound)
	require.Error(t, m.Delete(ctx, tk))
	require.EqualValues(t, 1, counter(t, reg, "authbridge_store_errors_total", "operation", "get"))
	require.EqualValues(t, 1, counter(t, reg, "authbridge_store_errors_total", "operation", "delete"))
	require.Zero(t, counter(t, reg, "authbridge_store_errors_total", "operation", "put"))
}

// TestStoreMetricsMemory: the memory store is timed too, and every operation's series exists at zero
// before its first call, so that rates and alerts see it.
func TestStoreMetricsMemory(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewSessions(NewMemoryStore(nil))
	m.EnableMetrics(reg)
	for _, op := range opNames {
		require.Zero(t, counter(t, reg, "authbridge_store_operation_duration_seconds", "operation", op), op)
		require.Zero(t, counter(t, reg, "authbridge_store_errors_total", "operation", op), op)
	}
	tk := newTicket(t)
	now := time.Now()
	require.NoError(t, m.Save(t.Context(), tk, &Session{Subject: "alice", CreatedAt: now, Touched: now}, time.Hour))
	lease := m.Lease(tk, "owner")
	ok, err := lease.Acquire(t.Context(), time.Second)
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, lease.Release(t.Context()))
	for _, op := range []string{"put", "index_add", "acquire", "release"} {
		require.EqualValues(t, 1, counter(t, reg, "authbridge_store_operation_duration_seconds", "operation", op), op)
	}
	// The label sets are the fixed ones: no call adds a series.
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == "authbridge_store_errors_total" {
			require.Len(t, mf.GetMetric(), len(opNames))
		}
	}
}

// TestCacheMetrics: hits, misses and invalidations of the cache over the memory store, in metrics order
// with what the cache did (a store read or not).
func TestCacheMetrics(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	store := &countingGets{Store: NewMemoryStore(clock)}
	reg := prometheus.NewRegistry()
	m := NewSessions(store)
	m.EnableCache(CacheOptions{TTL: 5 * time.Second, Now: clock})
	m.EnableMetrics(reg) // after EnableCache: the order does not matter
	tk := newTicket(t)
	require.NoError(t, m.Save(t.Context(), tk, &Session{Subject: "alice", CreatedAt: now, Touched: now}, time.Hour))
	lookups := func(result string) float64 {
		return counter(t, reg, "authbridge_session_cache_lookups_total", "result", result)
	}
	invalidations := func(scope string) float64 {
		return counter(t, reg, "authbridge_session_cache_invalidations_total", "scope", scope)
	}
	before := invalidations("key") // Save announces the new record

	for range 3 {
		_, err := m.Load(t.Context(), tk)
		require.NoError(t, err)
	}
	require.EqualValues(t, 1, lookups("miss"))
	require.EqualValues(t, 2, lookups("hit"))
	require.EqualValues(t, store.gets.Load(), lookups("miss"), "every miss is a store read")

	require.NoError(t, m.Delete(t.Context(), tk))
	require.Equal(t, before+1, invalidations("key"))
	_, err := m.Load(t.Context(), tk)
	require.ErrorIs(t, err, ErrNotFound)
	require.EqualValues(t, 2, lookups("miss"))
	require.Zero(t, lookups("bypassed"), "a store of one process is never bypassed")
}

// TestCacheMetricsBypassedWhilePubSubDown: with Redis, a cache whose invalidation channel is not
// confirmed live is bypassed (every load reads the store) and counted as such; losing the channel
// empties the cache (an invalidation of scope all).
func TestCacheMetricsBypassedWhilePubSubDown(t *testing.T) {
	srv := redistest.Start(t)
	reg := prometheus.NewRegistry()
	m := NewSessions(NewRedisStore(redisClient(t, srv), ""))
	m.EnableMetrics(reg) // before EnableCache: the store stays a Notifier
	m.EnableCache(CacheOptions{TTL: time.Hour})
	ctx := t.Context()
	tk := newTicket(t)
	require.NoError(t, m.Save(ctx, tk, &Session{Subject: "alice", CreatedAt: time.Now(), Touched: time.Now()}, time.Hour))

	// Run (the subscriber) is not running: the channel was never confirmed.
	_, err := m.Load(ctx, tk)
	require.NoError(t, err)
	require.EqualValues(t, 1, counter(t, reg, "authbridge_session_cache_lookups_total", "result", "bypassed"))

	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = m.Run(rctx); close(done) }()
	require.Eventually(t, m.cacheLive, 5*time.Second, time.Millisecond, "subscribed")
	for range 2 {
		_, err = m.Load(ctx, tk)
		require.NoError(t, err)
	}
	require.EqualValues(t, 1, counter(t, reg, "authbridge_session_cache_lookups_total", "result", "hit"))
	require.EqualValues(t, 1, counter(t, reg, "authbridge_session_cache_lookups_total", "result", "miss"))

	cancel() // the subscription ends: the cache is emptied and bypassed
	<-done
	require.GreaterOrEqual(t, counter(t, reg, "authbridge_session_cache_invalidations_total", "scope", "all"), 1.0)
	_, err = m.Load(ctx, tk)
	require.NoError(t, err)
	require.EqualValues(t, 2, counter(t, reg, "authbridge_session_cache_lookups_total", "result", "bypassed"))
	require.NoError(t, m.Delete(ctx, tk))
	require.EqualValues(t, 1, counter(t, reg, "authbridge_store_operation_duration_seconds", "operation", "publish"), "Delete announced")
}

// redisClient is a client of srv built as serve builds it, with a short timeout.
func redisClient(t *testing.T, srv *redistest.Server) redis.UniversalClient {
	c, err := NewRedisClient(RedisOptions{URL: srv.URL(), Timeout: 200 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}
