package session

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// boundCache is an unshared cache (always live) on a fixed clock.
func boundCache(maxEntries int, maxBytes int64) *cache {
	now := time.Unix(1_700_000_000, 0)
	return newCache(CacheOptions{TTL: time.Hour, MaxEntries: maxEntries, MaxBytes: maxBytes,
		Now: func() time.Time { return now }}, false)
}

// record is a session whose sealed record is n bytes (sharing one array: only the length counts).
func record(shared []byte, n int) *Session { return &Session{Subject: "alice", sealed: shared[:n]} }

func keyOf(i int) (k [32]byte) {
	binary.LittleEndian.PutUint64(k[:], uint64(i)+1)
	return k
}

// checkBound asserts the bounds and that the clock's books agree with the map.
func checkBound(t *testing.T, c *cache) {
	t.Helper()
	c.mu.RLock()
	defer c.mu.RUnlock()
	require.LessOrEqual(t, len(c.m), c.o.MaxEntries, "entries")
	require.LessOrEqual(t, c.clk.bytes, c.o.MaxBytes, "bytes")
	var bytes int64
	for k, e := range c.m {
		require.Equal(t, k, e.key)
		require.Same(t, e, c.clk.slots[e.slot], "an entry sits in its slot")
		bytes += e.size
	}
	require.Equal(t, bytes, c.clk.bytes, "the byte count is the entries' sizes")
	require.Equal(t, len(c.m), len(c.clk.slots)-len(c.clk.free), "one slot per entry")
	require.LessOrEqual(t, len(c.clk.slots), c.o.MaxEntries, "the slots never outgrow the bound")
}

// TestCacheBoundUnder100kSessions: 100,000 distinct sessions pass through the cache, each loaded once
// and some again; the entry and byte bounds hold throughout, whichever is reached first.
func TestCacheBoundUnder100kSessions(t *testing.T) {
	shared := make([]byte, 4096)
	tests := []struct {
		name        string
		maxEntries  int
		maxBytes    int64
		recordBytes int
		wantEntries int // held at the end
	}{
		{"entries bind", 1000, 1 << 30, 2600, 1000},
		{"bytes bind", 100_000, 1 << 20, 2600, 1 << 20 / (entryOverhead + 2*2600)},
		{"defaults, Auth0-sized records", 0, 0, 2600, DefaultCacheMaxBytes / (entryOverhead + 2*2600)},
		{"default entry bound, small records", 0, 1 << 30, 60, DefaultCacheMaxEntries},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := boundCache(tt.maxEntries, tt.maxBytes)
			for i := range 100_000 {
				k := keyOf(i)
				c.put(k, record(shared, tt.recordBytes), c.seq.Load())
				require.True(t, cached(c, k) != nil, "the newest entry is kept")
				if i%3 == 0 {
					cached(c, keyOf(i/2)) // older sessions coming back
				}
				if i%25_000 == 0 && len(c.m) < 50_000 { // the books of a larger map are checked once, at the end
					checkBound(t, c)
				}
			}
			checkBound(t, c)
			require.Equal(t, tt.wantEntries, len(c.m), "the cache is used up to its bound")
		})
	}
}

// TestCacheEvictionKeepsRecentlyUsed: in a full cache, the entries hit since they were put survive a
// stream of new ones that evicts half the cache; without hits, the oldest go first.
func TestCacheEvictionKeepsRecentlyUsed(t *testing.T) {
	shared := make([]byte, 100)
	tests := []struct {
		name   string
		hit    bool
		wantOf func(i int) bool // whether the i-th of the first 1000 survives
	}{
		// The hand clears the hit entries' marks and passes them; it evicts 9 of every 10 others, so the
		// 500 evictions reach entry 555.
		{"hit entries stay", true, func(i int) bool { return i%10 == 0 || i >= 556 }},
		{"without hits, oldest first", false, func(i int) bool { return i >= 500 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := boundCache(1000, 1<<30)
			for i := range 1000 {
				c.put(keyOf(i), record(shared, 100), c.seq.Load())
			}
			if tt.hit {
				for i := 0; i < 1000; i += 10 {
					require.True(t, cached(c, keyOf(i)) != nil)
				}
			}
			for i := 1000; i < 1500; i++ {
				c.put(keyOf(i), record(shared, 100), c.seq.Load())
			}
			checkBound(t, c)
			c.mu.RLock()
			defer c.mu.RUnlock()
			for i := range 1500 {
				_, ok := c.m[keyOf(i)]
				want := i >= 1000 || tt.wantOf(i)
				require.Equal(t, want, ok, "entry %d", i)
			}
		})
	}
}

// TestCacheBoundBookkeeping: replacing, dropping, sweeping and clearing keep the books, and an entry
// larger than the whole byte bound is not kept (nor does it evict anything).
func TestCacheBoundBookkeeping(t *testing.T) {
	shared := make([]byte, 8192)
	now := time.Unix(1_700_000_000, 0)
	c := newCache(CacheOptions{TTL: time.Minute, MaxEntries: 4, MaxBytes: 4 * (entryOverhead + 2*1000),
		Now: func() time.Time { return now }}, false)
	put := func(i, n int) { c.put(keyOf(i), record(shared, n), c.seq.Load()) }
	for i := range 4 {
		put(i, 1000)
	}
	checkBound(t, c)
	put(2, 500) // a replacement is no new entry
	checkBound(t, c)
	require.Len(t, c.m, 4)

	put(9, 8192) // larger than the whole bound
	checkBound(t, c)
	require.True(t, cached(c, keyOf(9)) == nil)
	require.Len(t, c.m, 4, "an oversized entry evicts nothing")

	c.drop(keyString(keyOf(1)))
	checkBound(t, c)
	require.Len(t, c.m, 3)
	put(5, 1000) // reuses the dropped entry's slot
	checkBound(t, c)
	require.Len(t, c.clk.slots, 4)

	now = now.Add(30 * time.Second)
	put(6, 100) // evicts one, expires later than the rest
	now = now.Add(31 * time.Second)
	c.sweep()
	checkBound(t, c)
	require.Len(t, c.m, 1, "the sweep removed the expired entries")
	require.True(t, cached(c, keyOf(6)) != nil)

	c.clear()
	checkBound(t, c)
	require.Empty(t, c.m)
	require.Zero(t, c.clk.bytes)
	for i := range 4 {
		put(i, 1000)
	}
	checkBound(t, c)
	require.Len(t, c.m, 4, "a cleared cache fills again")
}

// BenchmarkCacheHit is the cache's hit path alone: a read lock, a map lookup, the used mark.
func BenchmarkCacheHit(b *testing.B) {
	c := boundCache(0, 1<<30) // all 10,000 fit
	shared := make([]byte, 2600)
	for i := range 10_000 {
		c.put(keyOf(i), record(shared, 2600), c.seq.Load())
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if cached(c, keyOf(i%10_000)) == nil {
				b.Fatal("miss")
			}
			i++
		}
	})
}
