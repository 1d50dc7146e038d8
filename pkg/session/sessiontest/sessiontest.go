// Package sessiontest is the conformance suite that every session.Store implementation passes.
package sessiontest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/pkg/session"
)

// Harness tells Run how to build the store under test and how to let time pass for it.
type Harness struct {
	// New returns an empty store for one test case; it registers its own cleanup with t.
	New func(t *testing.T) session.Store
	// Advance moves the clock of every store New returned forward by d. Leave it nil for a store on
	// real time (Redis): Run then uses short TTLs and waits with require.Eventually.
	Advance func(d time.Duration)
}

// Run runs every conformance case against stores from h, one subtest each. Cases do not run in
// parallel, because Advance moves a clock that stores may share.
func Run(t *testing.T, h Harness) {
	cases := []struct {
		name string
		run  func(t *testing.T, h Harness, s session.Store)
	}{
		{"Missing", testMissing},
		{"RoundTrip", testRoundTrip},
		{"Overwrite", testOverwrite},
		{"NotAliased", testNotAliased},
		{"Delete", testDelete},
		{"TTL", testTTL},
		{"BadTTL", testBadTTL},
		{"OddKeys", testOddKeys},
		{"Ping", testPing},
		{"CompareAndSwap", testCompareAndSwap},
		{"CompareAndSwapTTL", testCompareAndSwapTTL},
		{"ConcurrentCompareAndSwap", testConcurrentCompareAndSwap},
		{"Lease", testLease},
		{"LeaseExpiry", testLeaseExpiry},
		{"ConcurrentAcquire", testConcurrentAcquire},
		{"BadTTLAtomic", testBadTTLAtomic},
		{"Index", testIndex},
		{"IndexTTL", testIndexTTL},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, h, h.New(t)) })
	}
}

const longTTL = time.Hour

func testMissing(t *testing.T, _ Harness, s session.Store) {
	ctx := t.Context()
	_, err := s.Get(ctx, "absent")
	require.ErrorIs(t, err, session.ErrNotFound)
}

func testRoundTrip(t *testing.T, _ Harness, s session.Store) {
	ctx := t.Context()
	tests := []struct {
		name string
		key  string
		val  []byte
	}{
		{"text", "k1", []byte("hello")},
		{"binary", "k2", []byte{0, 1, 2, 0xff, '\r', '\n', 0}},
		{"empty", "k3", []byte{}},
		{"large", "k4", make([]byte, 64<<10)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, s.Put(ctx, tt.key, tt.val, longTTL))
			got, err := s.Get(ctx, tt.key)
			require.NoError(t, err)
			require.Equal(t, len(tt.val), len(got))
			if len(tt.val) > 0 {
				require.Equal(t, tt.val, got)
			}
		})
	}
}

func testOverwrite(t *testing.T, h Harness, s session.Store) {
	ctx := t.Context()
	require.NoError(t, s.Put(ctx, "k", []byte("one"), shortTTL(h)))
	require.NoError(t, s.Put(ctx, "marker", []byte("m"), shortTTL(h)))
	require.NoError(t, s.Put(ctx, "k", []byte("two"), longTTL))
	got, err := s.Get(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, []byte("two"), got)
	// The second Put replaced the TTL too: the record outlives the first, short one.
	waitPast(t, h, s, "marker")
	got, err = s.Get(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, []byte("two"), got)
}

func testNotAliased(t *testing.T, _ Harness, s session.Store) {
	ctx := t.Context()
	in := []byte("original")
	require.NoError(t, s.Put(ctx, "k", in, longTTL))
	in[0] = 'X' // the caller reuses its buffer after Put
	got, err := s.Get(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, []byte("original"), got)
	got[0] = 'Y' // the caller scribbles on what Get returned
	again, err := s.Get(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, []byte("original"), again)
}

func testDelete(t *testing.T, _ Harness, s session.Store) {
	ctx := t.Context()
	require.NoError(t, s.Put(ctx, "k", []byte("v"), longTTL))
	require.NoError(t, s.Put(ctx, "other", []byte("w"), longTTL))
	require.NoError(t, s.Delete(ctx, "k"))
	_, err := s.Get(ctx, "k")
	require.ErrorIs(t, err, session.ErrNotFound)
	require.NoError(t, s.Delete(ctx, "k"), "deleting a deleted key")
	require.NoError(t, s.Delete(ctx, "never-there"), "deleting a missing key")
	got, err := s.Get(ctx, "other")
	require.NoError(t, err, "delete removed only its own key")
	require.Equal(t, []byte("w"), got)
}

func testTTL(t *testing.T, h Harness, s session.Store) {
	ctx := t.Context()
	require.NoError(t, s.Put(ctx, "short", []byte("v"), shortTTL(h)))
	require.NoError(t, s.Put(ctx, "long", []byte("v"), longTTL))
	got, err := s.Get(ctx, "short")
	require.NoError(t, err, "present before its TTL")
	require.Equal(t, []byte("v"), got)

	waitPast(t, h, s, "short")
	got, err = s.Get(ctx, "long")
	require.NoError(t, err, "a long TTL is not cut short")
	require.Equal(t, []byte("v"), got)
}

func testBadTTL(t *testing.T, _ Harness, s session.Store) {
	ctx := t.Context()
	for _, ttl := range []time.Duration{0, -1, -time.Second} {
		require.Error(t, s.Put(ctx, "k", []byte("v"), ttl), "ttl %v", ttl)
		_, err := s.Get(ctx, "k")
		require.ErrorIs(t, err, session.ErrNotFound, "a refused Put stores nothing (ttl %v)", ttl)
	}
}

func testOddKeys(t *testing.T, _ Harness, s session.Store) {
	ctx := t.Context()
	keys := []string{"", " ", "a b", "\x00", "k\x00\x01\xff", "\r\n", "ü€😀", "*", "?[]", "s:", "p:x",
		"{tag}k", "very-" + string(make([]byte, 1024))}
	for i, k := range keys {
		require.NoError(t, s.Put(ctx, k, []byte{byte(i)}, longTTL), "key %q", k)
	}
	for i, k := range keys {
		got, err := s.Get(ctx, k)
		require.NoError(t, err, "key %q", k)
		require.Equal(t, []byte{byte(i)}, got, "key %q kept its own value", k)
	}
	for _, k := range keys {
		require.NoError(t, s.Delete(ctx, k))
		_, err := s.Get(ctx, k)
		require.ErrorIs(t, err, session.ErrNotFound, "key %q", k)
	}
}

func testPing(t *testing.T, _ Harness, s session.Store) {
	require.NoError(t, s.Ping(t.Context()))
}

// realShortTTL is the TTL for records meant to expire when the store runs on real time: long enough
// to read the record back first, short enough to keep the suite fast.
const realShortTTL = 500 * time.Millisecond

// fakeShortTTL is the TTL for records meant to expire under an Advance clock.
const fakeShortTTL = time.Minute

func shortTTL(h Harness) time.Duration {
	if h.Advance != nil {
		return fakeShortTTL
	}
	return realShortTTL
}

// waitPast lets every short TTL run out and returns once key (put with shortTTL) reads as
// ErrNotFound. With a fake clock it also checks that the key survives until just before its TTL.
func waitPast(t *testing.T, h Harness, s session.Store, key string) {
	t.Helper()
	ctx := context.WithoutCancel(t.Context())
	if h.Advance != nil {
		h.Advance(fakeShortTTL - time.Second)
		_, err := s.Get(ctx, key)
		require.NoError(t, err, "%q is present a second before its TTL", key)
		h.Advance(2 * time.Second)
		_, err = s.Get(ctx, key)
		require.ErrorIs(t, err, session.ErrNotFound, "%q is gone after its TTL", key)
		return
	}
	require.Eventually(t, func() bool {
		_, err := s.Get(ctx, key)
		return errors.Is(err, session.ErrNotFound)
	}, 10*realShortTTL, 10*time.Millisecond, "%q expires", key)
}
