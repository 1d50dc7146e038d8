package session

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/redistest"
)

// TestCacheBoundedBySessionLifetimes: an entry is never served past the session's idle end (Touched+Idle,
// when the store drops an untouched record) or its absolute end (CreatedAt+Max), however long the cache
// TTL. The store here keeps the record longer, so a store read after the bound shows the cache let go.
func TestCacheBoundedBySessionLifetimes(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name    string
		age     time.Duration // since login (CreatedAt) when the record was last touched
		advance time.Duration // after the first load
		cached  bool          // the second load is served from the cache
	}{
		{"within both", 0, 9 * time.Minute, true},
		{"at the idle end", 0, 10 * time.Minute, false},
		{"past the idle end", 0, 11 * time.Minute, false},
		{"just before the absolute end", 55 * time.Minute, 5*time.Minute - time.Second, true},
		{"at the absolute end, idle time left", 55 * time.Minute, 5 * time.Minute, false},
		{"already past the absolute end", 61 * time.Minute, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := start
			clock := func() time.Time { return now }
			store := &countingGets{Store: NewMemoryStore(clock)}
			m := NewSessions(store)
			m.EnableCache(CacheOptions{TTL: 24 * time.Hour, Idle: 10 * time.Minute, Max: time.Hour, Now: clock})
			tk := newTicket(t)
			s := &Session{Subject: "alice", AccessToken: "at", Expiry: now.Add(48 * time.Hour),
				CreatedAt: now.Add(-tt.age), Touched: now}
			require.NoError(t, m.Save(t.Context(), tk, s, 48*time.Hour))

			_, err := m.Load(t.Context(), tk)
			require.NoError(t, err)
			now = now.Add(tt.advance)
			_, err = m.Load(t.Context(), tk)
			require.NoError(t, err)
			want := int64(2)
			if tt.cached {
				want = 1
			}
			require.Equal(t, want, store.gets.Load(), "store reads")
		})
	}
}

// TestCacheLiveness: with a shared store the cache serves only within CacheLivenessBound of the latest
// confirmation's send time, stops at once when the channel is lost, and starts empty when trust returns.
func TestCacheLiveness(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := newCache(CacheOptions{TTL: time.Hour, Now: func() time.Time { return now }}, true)
	key := [32]byte{1}
	s := &Session{Subject: "alice"}
	put := func() { c.put(key, s, c.seq.Load()) }

	put()
	require.Nil(t, cached(c, key), "never confirmed: nothing is stored or served")

	c.confirm(now)
	put()
	require.Same(t, s, cached(c, key))
	now = now.Add(CacheLivenessBound - time.Millisecond)
	require.Same(t, s, cached(c, key), "within the bound")
	now = now.Add(time.Millisecond)
	require.Nil(t, cached(c, key), "stale heartbeat: the store is asked instead")
	put()
	require.Nil(t, cached(c, key))

	// A late answer to an old heartbeat does not make the cache live: what counts is when it left.
	c.confirm(now.Add(-CacheLivenessBound))
	require.Nil(t, cached(c, key))
	// A fresh one does, but what was cached before the gap is gone, and a load begun before it is refused.
	seq := c.seq.Load()
	c.confirm(now)
	require.Empty(t, c.m, "entries from before the gap are dropped")
	c.put(key, s, seq)
	require.Nil(t, cached(c, key), "a load that began before trust returned is not stored")
	put()
	require.Same(t, s, cached(c, key))

	c.lose()
	require.Nil(t, cached(c, key), "lost: stops at once, though the last heartbeat is fresh")
	require.Empty(t, c.m)

	local := newCache(CacheOptions{TTL: time.Hour, Now: func() time.Time { return now }}, false)
	local.put(key, s, local.seq.Load())
	require.Same(t, s, cached(local, key), "a store of one process needs no channel")
}

// TestCacheStopsServingWhenRedisStalls: a session served from the cache stops being served within
// CacheLivenessBound after Redis freezes (SIGSTOP; the subscription's connection stays open, so nothing
// reports an error): from then on every load is an error — never the session, never ErrNotFound. After
// SIGCONT the same session loads again.
func TestCacheStopsServingWhenRedisStalls(t *testing.T) {
	srv := redistest.Start(t)
	m := replica(t, srv.Addr())
	ctx := t.Context()
	tk := newTicket(t)
	require.NoError(t, m.Save(ctx, tk, &Session{Subject: "alice", AccessToken: "at", CreatedAt: time.Now(), Touched: time.Now()}, time.Hour))
	_, err := m.Load(ctx, tk)
	require.NoError(t, err)
	require.NotNil(t, cached(m.cache, tk.storeHash()), "cached")

	srv.Pause()
	paused := time.Now()
	var lastServed, firstError time.Duration
	for time.Since(paused) < 2*time.Second {
		began := time.Since(paused) // a success was served after this; a busy machine may delay its return
		_, err := m.Load(ctx, tk)
		since := time.Since(paused)
		if err == nil {
			require.Zero(t, firstError, "served at %s after an error at %s", began, firstError)
			lastServed = began
			continue
		}
		require.NotErrorIs(t, err, ErrNotFound, "a stalled store is not a missing session")
		if firstError == 0 {
			firstError = since
		}
	}
	t.Logf("after Redis froze: last served from the cache at %s (bound %s), first error at %s",
		lastServed, CacheLivenessBound, firstError)
	require.Less(t, lastServed, CacheLivenessBound+50*time.Millisecond)
	require.NotZero(t, firstError)
	require.Less(t, firstError, time.Second, "the bound plus one store timeout")

	srv.Resume()
	require.Eventually(t, func() bool {
		s, err := m.Load(ctx, tk)
		return err == nil && s.AccessToken == "at"
	}, 5*time.Second, 10*time.Millisecond, "the session is back once Redis runs")
	require.Eventually(t, m.cacheLive, 5*time.Second, 10*time.Millisecond, "the cache is trusted again")
}

// TestSubscriptionReplacedWhenHeartbeatsStop: a subscription connection that silently stops carrying
// anything (a dead node or a partition: no reset, no error) is given up after heartbeatReconnect, and a
// new connection restores the cache.
func TestSubscriptionReplacedWhenHeartbeatsStop(t *testing.T) {
	srv := redistest.Start(t)
	p := newFreezeProxy(t, srv.Addr())
	m := replica(t, p.addr())
	p.freeze() // every connection open now goes silent; new ones work
	frozen := time.Now()
	require.Eventually(t, func() bool { return !m.cacheLive() }, time.Second, 5*time.Millisecond, "stale within the bound")
	require.Eventually(t, m.cacheLive, heartbeatReconnect+3*time.Second, 10*time.Millisecond, "a new subscription")
	t.Logf("cache trusted again %s after its subscription went silent", time.Since(frozen))
}

// freezeProxy forwards TCP connections to a backend until freeze, after which the connections open at
// that moment stay open but carry nothing more in either direction.
type freezeProxy struct {
	ln      net.Listener
	backend string
	mu      sync.Mutex
	live    []chan struct{} // closed by freeze, one per open connection pair
}

func newFreezeProxy(t *testing.T, backend string) *freezeProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &freezeProxy{ln: ln, backend: backend}
	var conns []net.Conn
	var cmu sync.Mutex
	t.Cleanup(func() {
		_ = ln.Close()
		cmu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		cmu.Unlock()
	})
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", backend)
			if err != nil {
				_ = in.Close()
				continue
			}
			cmu.Lock()
			conns = append(conns, in, out)
			cmu.Unlock()
			frozen := make(chan struct{})
			p.mu.Lock()
			p.live = append(p.live, frozen)
			p.mu.Unlock()
			go pipe(out, in, frozen)
			go pipe(in, out, frozen)
		}
	}()
	return p
}

func (p *freezeProxy) addr() string { return p.ln.Addr().String() }

func (p *freezeProxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.live {
		close(f)
	}
	p.live = nil
}

// pipe copies src to dst until frozen; then it swallows what arrives, keeping both ends open.
func pipe(dst, src net.Conn, frozen <-chan struct{}) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		select {
		case <-frozen:
			if err != nil {
				return
			}
			continue
		default:
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				_ = dst.Close()
			}
			return
		}
	}
}

// cached is the session c serves under key, or nil.
func cached(c *cache, key [32]byte) *Session {
	s, _ := c.get(key)
	return s
}
