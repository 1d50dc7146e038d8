package session

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/redistest"
)

// countingGets counts store reads, to see whether a Load was served from the cache.
type countingGets struct {
	Store
	gets atomic.Int64
}

func (c *countingGets) Get(ctx context.Context, key string) ([]byte, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, key)
}

func TestCacheServesRepeatedLoads(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	store := &countingGets{Store: NewMemoryStore(clock)}
	m := NewSessions(store)
	m.EnableCache(CacheOptions{TTL: 5 * time.Second, Now: clock})
	tk := newTicket(t)
	s := &Session{Subject: "alice", AccessToken: "at", Expiry: now.Add(time.Minute), CreatedAt: now}
	require.NoError(t, m.Save(t.Context(), tk, s, time.Hour))

	for range 10 {
		got, err := m.Load(t.Context(), tk)
		require.NoError(t, err)
		require.Equal(t, "at", got.AccessToken)
	}
	require.EqualValues(t, 1, store.gets.Load(), "one store read, then the cache")

	now = now.Add(6 * time.Second) // past the cache TTL
	_, err := m.Load(t.Context(), tk)
	require.NoError(t, err)
	require.EqualValues(t, 2, store.gets.Load())

	_, err = m.LoadFresh(t.Context(), tk)
	require.NoError(t, err)
	require.EqualValues(t, 3, store.gets.Load(), "LoadFresh bypasses the cache")

	require.NoError(t, m.Delete(t.Context(), tk))
	_, err = m.Load(t.Context(), tk)
	require.ErrorIs(t, err, ErrNotFound, "a deleted session is gone at once")

	// An entry never outlives the access token.
	tk2 := newTicket(t)
	require.NoError(t, m.Save(t.Context(), tk2, &Session{AccessToken: "short", Expiry: now.Add(time.Second)}, time.Hour))
	_, _ = m.Load(t.Context(), tk2)
	before := store.gets.Load()
	now = now.Add(2 * time.Second)
	_, _ = m.Load(t.Context(), tk2)
	require.Equal(t, before+1, store.gets.Load(), "expired token: read from the store again")
}

// replica is one authbridge process's Sessions with a cache, subscribed to invalidations through a
// client built as serve builds it.
func replica(t *testing.T, addr string) *Sessions {
	c, err := NewRedisClient(RedisOptions{URL: "redis://" + addr})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	m := NewSessions(NewRedisStore(c, ""))
	m.EnableCache(CacheOptions{TTL: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = m.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	require.Eventually(t, m.cacheLive, 5*time.Second, time.Millisecond, "subscribed")
	return m
}

// cacheLive reports whether the cache would serve now.
func (m *Sessions) cacheLive() bool { return m.cache.live(m.cache.o.Now()) }

// TestCacheInvalidationAcrossReplicas: sign-out and refresh on one replica reach the other's cache
// within 100 ms (Redis pub/sub), even though its entry would otherwise live an hour.
func TestCacheInvalidationAcrossReplicas(t *testing.T) {
	srv := redistest.Start(t)
	a, b := replica(t, srv.Addr()), replica(t, srv.Addr())
	ctx := t.Context()
	tk := newTicket(t)
	require.NoError(t, a.Save(ctx, tk, &Session{Subject: "alice", AccessToken: "v1", CreatedAt: time.Now()}, time.Hour))

	got, err := b.Load(ctx, tk) // now cached on b
	require.NoError(t, err)
	loaded, err := a.Load(ctx, tk)
	require.NoError(t, err)
	loaded.AccessToken = "v2"
	ok, err := a.Update(ctx, tk, loaded, time.Hour)
	require.NoError(t, err)
	require.True(t, ok)
	require.Eventually(t, func() bool {
		got, err = b.Load(ctx, tk)
		return err == nil && got.AccessToken == "v2"
	}, 100*time.Millisecond, time.Millisecond, "a refresh on one replica reaches the other")

	require.NoError(t, a.Delete(ctx, tk))
	require.Eventually(t, func() bool {
		_, err := b.Load(ctx, tk)
		return err == ErrNotFound
	}, 100*time.Millisecond, time.Millisecond, "a sign-out on one replica reaches the other")

	// Back-channel logout (by sid) too.
	tk2 := newTicket(t)
	require.NoError(t, a.Save(ctx, tk2, &Session{Subject: "bob", SID: "sid-9", AccessToken: "x", CreatedAt: time.Now()}, time.Hour))
	_, err = b.Load(ctx, tk2)
	require.NoError(t, err)
	n, err := a.EndSID(ctx, "sid-9")
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Eventually(t, func() bool {
		_, err := b.Load(ctx, tk2)
		return err == ErrNotFound
	}, 100*time.Millisecond, time.Millisecond)
}

// TestCacheFailsClosedWhenRedisGoes: when the invalidation subscription breaks, the cache stops being
// trusted, so a Redis outage is an error (503) rather than a stale allow.
func TestCacheFailsClosedWhenRedisGoes(t *testing.T) {
	srv := redistest.Start(t)
	b := replica(t, srv.Addr())
	ctx := t.Context()
	tk := newTicket(t)
	require.NoError(t, b.Save(ctx, tk, &Session{Subject: "alice", AccessToken: "at", CreatedAt: time.Now()}, time.Hour))
	_, err := b.Load(ctx, tk)
	require.NoError(t, err)
	srv.Stop()
	require.Eventually(t, func() bool {
		_, err := b.Load(ctx, tk)
		return err != nil && err != ErrNotFound
	}, 5*time.Second, 10*time.Millisecond)
	srv.Restart() // no persistence: the session is gone, and the cache must not pretend otherwise
	require.Eventually(t, func() bool {
		_, err := b.Load(ctx, tk)
		return err == ErrNotFound
	}, 10*time.Second, 20*time.Millisecond)
	require.Eventually(t, b.cacheLive, 10*time.Second, 10*time.Millisecond, "resubscribed after the outage")
}

// TestCacheMaxEntries: the cache never holds more than MaxEntries sessions, whatever the number of
// sessions loaded; a full cache makes room by dropping one entry, and reloading a session it already
// holds drops nothing. Sessions dropped from the cache still load (from the store).
func TestCacheMaxEntries(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	store := &countingGets{Store: NewMemoryStore(clock)}
	m := NewSessions(store)
	m.EnableCache(CacheOptions{TTL: time.Minute, MaxEntries: 3, Now: clock})
	size := func() int {
		m.cache.mu.RLock()
		defer m.cache.mu.RUnlock()
		return len(m.cache.m)
	}
	var tks []Ticket
	for i := range 10 {
		tk := newTicket(t)
		tks = append(tks, tk)
		require.NoError(t, m.Save(t.Context(), tk, &Session{Subject: "u", AccessToken: "at", CreatedAt: now}, time.Hour))
		_, err := m.Load(t.Context(), tk)
		require.NoError(t, err)
		require.Equal(t, min(i+1, 3), size(), "after %d loads", i+1)
	}
	// Full: putting a session that is already cached again keeps every other entry.
	m.cache.mu.RLock()
	held := make(map[[32]byte]bool)
	for k := range m.cache.m {
		held[k] = true
	}
	m.cache.mu.RUnlock()
	for _, tk := range tks {
		if h := tk.storeHash(); held[h] {
			m.cache.put(h, &Session{Subject: "u", AccessToken: "at", CreatedAt: now}, m.cache.seq.Load())
		}
	}
	m.cache.mu.RLock()
	for k := range held {
		_, ok := m.cache.m[k]
		require.True(t, ok, "a re-put evicted another entry")
	}
	m.cache.mu.RUnlock()
	for _, tk := range tks {
		_, err := m.Load(t.Context(), tk)
		require.NoError(t, err)
	}
	require.Equal(t, 3, size())
}
