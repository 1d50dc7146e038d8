package session_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/testkit"
	"github.com/authbridge/authbridge/pkg/session"
	"github.com/authbridge/authbridge/pkg/session/sessiontest"
)

// clock is a fake time source that only moves when told to.
type clock = testkit.Clock

func newClock() *clock { return testkit.NewClock(time.Unix(1_700_000_000, 0)) }

func TestMemoryStore(t *testing.T) {
	clk := newClock()
	sessiontest.Run(t, sessiontest.Harness{
		New:     func(*testing.T) session.Store { return session.NewMemoryStore(clk.Now) },
		Advance: clk.Advance,
	})
}

func TestMemoryStoreSweep(t *testing.T) {
	ctx := t.Context()
	clk := newClock()
	m := session.NewMemoryStore(clk.Now)
	require.NoError(t, m.Put(ctx, "short", []byte("v"), time.Minute))
	require.NoError(t, m.Put(ctx, "long", []byte("v"), time.Hour))
	clk.Advance(2 * time.Minute)
	require.Equal(t, 2, m.Len(), "expired entries stay until swept")
	m.Sweep()
	require.Equal(t, 1, m.Len())
	_, err := m.Get(ctx, "long")
	require.NoError(t, err)
}

func TestMemoryStoreSweepLeasesAndIndexes(t *testing.T) {
	ctx := t.Context()
	clk := newClock()
	m := session.NewMemoryStore(clk.Now)
	for _, k := range []string{"short", "long"} {
		ttl := time.Minute
		if k == "long" {
			ttl = time.Hour
		}
		ok, err := m.Acquire(ctx, "lease-"+k, "a", ttl)
		require.NoError(t, err)
		require.True(t, ok)
		require.NoError(t, m.IndexAdd(ctx, "ix-"+k, "m", "v", ttl))
	}
	clk.Advance(2 * time.Minute)
	require.Equal(t, 4, m.Len(), "expired leases and indexes stay until swept")
	m.Sweep()
	require.Equal(t, 2, m.Len())
	ok, err := m.Renew(ctx, "lease-long", "a", time.Hour)
	require.NoError(t, err)
	require.True(t, ok)
	ix, err := m.Index(ctx, "ix-long")
	require.NoError(t, err)
	require.Equal(t, map[string]string{"m": "v"}, ix)
}

func TestMemoryStoreRun(t *testing.T) {
	clk := newClock()
	m := session.NewMemoryStore(clk.Now)
	m.SetSweepEvery(time.Millisecond)
	require.NoError(t, m.Put(t.Context(), "k", []byte("v"), time.Minute))
	clk.Advance(time.Hour)

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	require.Eventually(t, func() bool { return m.Len() == 0 }, 5*time.Second, time.Millisecond)
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestMemoryStoreRealClock(t *testing.T) {
	m := session.NewMemoryStore(nil)
	require.NoError(t, m.Put(t.Context(), "k", []byte("v"), time.Hour))
	got, err := m.Get(t.Context(), "k")
	require.NoError(t, err)
	require.Equal(t, []byte("v"), got)
}
