package sessiontest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/pkg/session"
)

func testCompareAndSwap(t *testing.T, _ Harness, s session.Store) {
	ctx := t.Context()
	del := func(ctx context.Context, s session.Store, k string) error { return s.Delete(ctx, k) }
	tests := []struct {
		name   string
		stored []byte                                                     // put before the swap; nil puts nothing
		drop   func(ctx context.Context, s session.Store, k string) error // run after the put, if set
		old    []byte
		val    []byte
		wantOK bool
		want   []byte // the record afterwards; nil means ErrNotFound
	}{
		{"exact old", []byte("v1"), nil, []byte("v1"), []byte("v2"), true, []byte("v2")},
		{"different old", []byte("v1"), nil, []byte("v0"), []byte("v2"), false, []byte("v1")},
		{"old is a prefix", []byte("v1-long"), nil, []byte("v1"), []byte("v2"), false, []byte("v1-long")},
		{"old is longer", []byte("v1"), nil, []byte("v1-long"), []byte("v2"), false, []byte("v1")},
		{"binary", []byte{0, 1, 0xff, 0}, nil, []byte{0, 1, 0xff, 0}, []byte{'\r', '\n', 0}, true, []byte{'\r', '\n', 0}},
		{"binary differs in last byte", []byte{0, 1, 0xff, 0}, nil, []byte{0, 1, 0xff, 1}, []byte("x"), false, []byte{0, 1, 0xff, 0}},
		{"empty record", []byte{}, nil, []byte{}, []byte("v2"), true, []byte("v2")},
		{"missing", nil, nil, []byte("v1"), []byte("v2"), false, nil},
		{"missing, empty old", nil, nil, []byte{}, []byte("v2"), false, nil},
		{"missing, nil old", nil, nil, nil, []byte("v2"), false, nil},
		{"after delete", []byte("v1"), del, []byte("v1"), []byte("v2"), false, nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := fmt.Sprintf("cas-%d", i)
			if tt.stored != nil {
				require.NoError(t, s.Put(ctx, key, tt.stored, longTTL))
			}
			if tt.drop != nil {
				require.NoError(t, tt.drop(ctx, s, key))
			}
			ok, err := s.CompareAndSwap(ctx, key, tt.old, tt.val, longTTL)
			require.NoError(t, err)
			require.Equal(t, tt.wantOK, ok)
			got, err := s.Get(ctx, key)
			if tt.want == nil {
				require.ErrorIs(t, err, session.ErrNotFound, "a failed swap writes nothing")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func testCompareAndSwapTTL(t *testing.T, h Harness, s session.Store) {
	ctx := t.Context()
	require.NoError(t, s.Put(ctx, "grow", []byte("a"), shortTTL(h)))
	require.NoError(t, s.Put(ctx, "shrink", []byte("a"), longTTL))
	val := []byte("b")
	ok, err := s.CompareAndSwap(ctx, "grow", []byte("a"), val, longTTL)
	require.NoError(t, err)
	require.True(t, ok)
	val[0] = 'X' // the caller reuses its buffer after the swap
	ok, err = s.CompareAndSwap(ctx, "shrink", []byte("a"), []byte("b"), shortTTL(h))
	require.NoError(t, err)
	require.True(t, ok)

	waitPast(t, h, s, "shrink") // the swap gave "shrink" the short TTL...
	got, err := s.Get(ctx, "grow")
	require.NoError(t, err, "...and \"grow\" the long one")
	require.Equal(t, []byte("b"), got)
	ok, err = s.CompareAndSwap(ctx, "shrink", []byte("b"), []byte("c"), longTTL)
	require.NoError(t, err)
	require.False(t, ok, "an expired record never matches")
	_, err = s.Get(ctx, "shrink")
	require.ErrorIs(t, err, session.ErrNotFound, "an expired record is not resurrected")
}

func testConcurrentCompareAndSwap(t *testing.T, _ Harness, s session.Store) {
	ctx := t.Context()
	for round := range 3 {
		key := fmt.Sprintf("cas-race-%d", round)
		require.NoError(t, s.Put(ctx, key, []byte("v0"), longTTL))
		won := contend(t, 50, func(i int) (bool, error) {
			return s.CompareAndSwap(ctx, key, []byte("v0"), fmt.Appendf(nil, "v-%d", i), longTTL)
		})
		require.Len(t, won, 1, "exactly one swap from the same old value wins")
		got, err := s.Get(ctx, key)
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf("v-%d", won[0]), string(got), "the winner's value is stored")
	}
}

func testLease(t *testing.T, _ Harness, s session.Store) {
	ctx := t.Context()
	step := func(what string, want bool, ok bool, err error) {
		t.Helper()
		require.NoError(t, err, what)
		require.Equal(t, want, ok, what)
	}
	ok, err := s.Acquire(ctx, "l", "a", longTTL)
	step("a acquires a free lease", true, ok, err)
	ok, err = s.Acquire(ctx, "l", "b", longTTL)
	step("b cannot acquire a's lease", false, ok, err)
	ok, err = s.Acquire(ctx, "l", "a", longTTL)
	step("acquire is SET NX: a renews, it does not re-acquire", false, ok, err)
	ok, err = s.Renew(ctx, "l", "b", longTTL)
	step("b cannot renew a's lease", false, ok, err)
	ok, err = s.Renew(ctx, "l", "a", longTTL)
	step("a renews its lease", true, ok, err)
	require.NoError(t, s.Release(ctx, "l", "b"), "releasing someone else's lease is no error")
	ok, err = s.Acquire(ctx, "l", "b", longTTL)
	step("b's release left a's lease", false, ok, err)
	require.NoError(t, s.Release(ctx, "l", "a"))
	ok, err = s.Renew(ctx, "l", "a", longTTL)
	step("a released lease cannot be renewed", false, ok, err)
	ok, err = s.Acquire(ctx, "l", "b", longTTL)
	step("b acquires the released lease", true, ok, err)

	require.NoError(t, s.Release(ctx, "absent", "a"), "releasing no lease is no error")
	ok, err = s.Renew(ctx, "absent", "a", longTTL)
	step("no lease cannot be renewed", false, ok, err)
	ok, err = s.Acquire(ctx, "other", "a", longTTL)
	step("leases are per key", true, ok, err)
}

func testLeaseExpiry(t *testing.T, h Harness, s session.Store) {
	ctx := t.Context()
	for _, k := range []string{"expires", "renewed"} {
		ok, err := s.Acquire(ctx, k, "a", shortTTL(h))
		require.NoError(t, err)
		require.True(t, ok)
	}
	ok, err := s.Renew(ctx, "renewed", "a", longTTL)
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, s.Put(ctx, "marker", []byte("m"), shortTTL(h)))

	waitPast(t, h, s, "marker") // put after the leases, so they have run out too
	ok, err = s.Renew(ctx, "expires", "a", longTTL)
	require.NoError(t, err)
	require.False(t, ok, "an expired lease cannot be renewed")
	ok, err = s.Acquire(ctx, "expires", "b", longTTL)
	require.NoError(t, err)
	require.True(t, ok, "another owner takes an expired lease")
	require.NoError(t, s.Release(ctx, "expires", "a"), "the old owner's late release...")
	ok, err = s.Acquire(ctx, "expires", "c", longTTL)
	require.NoError(t, err)
	require.False(t, ok, "...leaves the new owner's lease")

	ok, err = s.Acquire(ctx, "renewed", "b", longTTL)
	require.NoError(t, err)
	require.False(t, ok, "the renewal outlived the first TTL")
	ok, err = s.Renew(ctx, "renewed", "a", longTTL)
	require.NoError(t, err)
	require.True(t, ok)
}

func testConcurrentAcquire(t *testing.T, _ Harness, s session.Store) {
	ctx := t.Context()
	for round := range 3 {
		key := fmt.Sprintf("lease-race-%d", round)
		won := contend(t, 50, func(i int) (bool, error) {
			return s.Acquire(ctx, key, fmt.Sprintf("owner-%d", i), longTTL)
		})
		require.Len(t, won, 1, "exactly one of concurrent Acquires gets the lease")
		ok, err := s.Renew(ctx, key, fmt.Sprintf("owner-%d", won[0]), longTTL)
		require.NoError(t, err)
		require.True(t, ok, "the winner holds the lease")
		ok, err = s.Renew(ctx, key, fmt.Sprintf("owner-%d", (won[0]+1)%50), longTTL)
		require.NoError(t, err)
		require.False(t, ok, "a loser does not")
	}
}

func testBadTTLAtomic(t *testing.T, _ Harness, s session.Store) {
	ctx := t.Context()
	require.NoError(t, s.Put(ctx, "rec", []byte("v"), longTTL))
	ok, err := s.Acquire(ctx, "held", "a", longTTL)
	require.NoError(t, err)
	require.True(t, ok)
	for _, ttl := range []time.Duration{0, -1, -time.Second} {
		ok, err := s.CompareAndSwap(ctx, "rec", []byte("v"), []byte("w"), ttl)
		require.Error(t, err, "swap, ttl %v", ttl)
		require.False(t, ok)
		ok, err = s.Acquire(ctx, "free", "a", ttl)
		require.Error(t, err, "acquire, ttl %v", ttl)
		require.False(t, ok)
		// PEXPIRE with a ttl <= 0 would delete the key: a refused Renew must leave the lease alone.
		ok, err = s.Renew(ctx, "held", "a", ttl)
		require.Error(t, err, "renew, ttl %v", ttl)
		require.False(t, ok)
		require.Error(t, s.IndexAdd(ctx, "ix", "m", "v", ttl), "index add, ttl %v", ttl)
	}
	got, err := s.Get(ctx, "rec")
	require.NoError(t, err)
	require.Equal(t, []byte("v"), got, "a refused swap writes nothing")
	ok, err = s.Acquire(ctx, "free", "b", longTTL)
	require.NoError(t, err)
	require.True(t, ok, "a refused Acquire took no lease")
	ok, err = s.Renew(ctx, "held", "a", longTTL)
	require.NoError(t, err)
	require.True(t, ok, "a refused Renew kept the lease")
	ix, err := s.Index(ctx, "ix")
	require.NoError(t, err)
	require.Empty(t, ix, "a refused IndexAdd added nothing")
}

// contend runs f(0) ... f(n-1) at once and returns the i for which f reported true. Any error fails t.
func contend(t *testing.T, n int, f func(i int) (bool, error)) []int {
	t.Helper()
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		mu    sync.Mutex
		won   []int
		errs  []error
	)
	for i := range n {
		wg.Go(func() {
			<-start
			ok, err := f(i)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				errs = append(errs, err)
			case ok:
				won = append(won, i)
			}
		})
	}
	close(start)
	wg.Wait()
	require.Empty(t, errs)
	return won
}
