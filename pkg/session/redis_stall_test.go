package session_test

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/redistest"
	"github.com/authbridge/authbridge/pkg/session"
)

// stallBudget is Envoy's default ext_authz timeout: a stalled store must be reported within it. The
// assertions allow twice that (stallSlack) so that a loaded CI machine's scheduling does not fail them;
// the unbounded behaviour they guard against took over a second. The measured figures are logged.
const (
	stallBudget = 200 * time.Millisecond
	stallSlack  = 2 * stallBudget
)

// stallTimeout is the client Timeout in the stall tests: below the 150ms default, so that the 200ms
// bound holds with a margin for a busy, shared 2-core machine under -race.
const stallTimeout = 100 * time.Millisecond

// TestRedisStoreStalledFailsWithinTimeout: with Redis frozen (SIGSTOP: its connections stay open and the
// kernel even accepts new ones, but nothing is answered), every store call fails — never ErrNotFound —
// within the client's Timeout, also with more calls in flight than the pool has connections. Once Redis
// runs again the data is still there.
func TestRedisStoreStalledFailsWithinTimeout(t *testing.T) {
	srv := redistest.Start(t)
	s := session.NewRedisStore(newClient(t, session.RedisOptions{URL: srv.URL(), Timeout: stallTimeout}), "")
	ctx := t.Context()
	require.NoError(t, s.Put(ctx, "k", []byte("v"), time.Hour))
	require.NoError(t, s.IndexAdd(ctx, "i", "m", "1", time.Hour))

	srv.Pause()
	calls := []struct {
		name string
		call func() error
	}{
		{"get", func() error { _, err := s.Get(ctx, "k"); return err }},
		{"put", func() error { return s.Put(ctx, "k2", []byte("v"), time.Hour) }},
		{"delete", func() error { return s.Delete(ctx, "k2") }},
		{"ping", func() error { return s.Ping(ctx) }},
		{"compare and swap", func() error { _, err := s.CompareAndSwap(ctx, "k", []byte("v"), []byte("w"), time.Hour); return err }},
		{"acquire", func() error { _, err := s.Acquire(ctx, "l", "o", time.Second); return err }},
		{"renew", func() error { _, err := s.Renew(ctx, "l", "o", time.Second); return err }},
		{"release", func() error { return s.Release(ctx, "l", "o") }},
		{"index add", func() error { return s.IndexAdd(ctx, "i", "m2", "1", time.Hour) }},
		{"index", func() error { _, err := s.Index(ctx, "i"); return err }},
		{"index remove", func() error { return s.IndexRemove(ctx, "i", "m2") }},
		{"publish", func() error { return s.Publish(ctx, "k") }},
	}
	var worst time.Duration
	for _, c := range calls {
		start := time.Now()
		err := c.call()
		d := time.Since(start)
		require.Error(t, err, c.name)
		require.NotErrorIs(t, err, session.ErrNotFound, c.name)
		require.Less(t, d, stallSlack, c.name)
		worst = max(worst, d)
	}

	// Three times as many concurrent reads as the pool has connections (10 per CPU): the ones waiting
	// for a connection are bounded too.
	n := 30 * runtime.GOMAXPROCS(0)
	durs := make([]time.Duration, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			start := time.Now()
			_, err := s.Get(ctx, "k")
			durs[i] = time.Since(start)
			if err == nil || err == session.ErrNotFound {
				t.Errorf("get %d while stalled: %v", i, err)
			}
		})
	}
	wg.Wait()
	worstConcurrent := time.Duration(0)
	for _, d := range durs {
		worstConcurrent = max(worstConcurrent, d)
	}
	t.Logf("stalled Redis, timeout %s: worst sequential call %s; worst of %d concurrent gets %s",
		stallTimeout, worst, n, worstConcurrent)
	require.Less(t, worstConcurrent, stallSlack)

	srv.Resume()
	require.Eventually(t, func() bool {
		got, err := s.Get(ctx, "k")
		return err == nil && string(got) == "v"
	}, 5*time.Second, 10*time.Millisecond, "the store works again, data intact")
}

// TestRedisStoreCallerDeadline: a caller's shorter deadline (Envoy's grpc-timeout) ends the command
// sooner than the client's Timeout.
func TestRedisStoreCallerDeadline(t *testing.T) {
	srv := redistest.Start(t)
	s := session.NewRedisStore(newClient(t, session.RedisOptions{URL: srv.URL(), Timeout: 5 * time.Second}), "")
	require.NoError(t, s.Ping(t.Context()))
	srv.Pause()
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.Get(ctx, "k")
	require.Error(t, err)
	require.Less(t, time.Since(start), time.Second, "the caller's deadline, not the 5s timeout")
	srv.Resume()
}
