package session

import (
	"crypto/sha256"
	"sync/atomic"
	"time"
)

// The cache's bound: at most CacheOptions.MaxEntries entries and MaxBytes bytes (estimated per entry),
// evicted by CLOCK (second chance). A hit marks its entry used with one atomic store and no lock, so the
// hit path stays a read lock and a map lookup; a put into a full cache moves a hand over the slots,
// clearing marks, and evicts the first entry not used since the hand last passed it. An entry in use
// survives a whole turn of the hand, so a burst of one-off sessions (a crawler with many cookies, a
// login storm) evicts each other before it evicts the sessions that keep coming back.

// Defaults of the bound. With Auth0-sized tokens an entry costs about 6 KiB, so the byte bound is the
// one that holds first: 16 MiB keeps a few thousand active sessions, all a replica usually serves
// within one cache TTL, and leaves the process under 64 MiB RSS however many sessions hit it.
const (
	DefaultCacheMaxEntries = 100_000
	DefaultCacheMaxBytes   = 16 << 20
)

// entryOverhead approximates what an entry costs beside its record: the map slot and key, the entry,
// the Session struct and its slices' headers, the clock slot.
const entryOverhead = 512

type cacheEntry struct {
	s     *Session
	until time.Time
	key   [sha256.Size]byte
	size  int64
	slot  int         // index in clock.slots
	used  atomic.Bool // set by a hit, cleared by the passing hand
}

// clock holds the entries in slots for the eviction hand. It is guarded by cache.mu (written only under
// the write lock).
type clock struct {
	slots []*cacheEntry // nil where an entry was removed; never longer than MaxEntries
	free  []int         // indexes of nil slots, reused before slots grows
	hand  int
	bytes int64 // sum of the entries' sizes
}

// sizeOf estimates the memory an entry for s holds. A decoded session's strings are substrings of one
// string about as long as the record, and it keeps the sealed record itself (for Update's compare).
func sizeOf(s *Session) int64 {
	n := entryOverhead + 2*len(s.sealed) + 16*len(s.Groups)
	for name, vs := range s.Claims {
		n += 64 + len(name) + 16*len(vs)
	}
	return int64(n)
}

// admit stores e, evicting until both bounds hold. An entry larger than the whole byte bound is not kept.
// The caller holds c.mu for writing.
func (c *cache) admit(e *cacheEntry) {
	if old, ok := c.m[e.key]; ok {
		c.remove(old)
	}
	if e.size > c.o.MaxBytes {
		return
	}
	for len(c.m) >= c.o.MaxEntries || c.clk.bytes+e.size > c.o.MaxBytes {
		c.evict() // the cache is not empty here: an empty one holds both bounds for e
	}
	if n := len(c.clk.free); n > 0 {
		e.slot = c.clk.free[n-1]
		c.clk.free = c.clk.free[:n-1]
		c.clk.slots[e.slot] = e
	} else {
		e.slot = len(c.clk.slots)
		c.clk.slots = append(c.clk.slots, e)
	}
	c.clk.bytes += e.size
	c.m[e.key] = e
}

// evict removes the first entry at or after the hand that was not used since the hand last passed it,
// clearing the marks it passes. It ends within two turns, as the cache holds at least one entry.
func (c *cache) evict() {
	for {
		if c.clk.hand >= len(c.clk.slots) {
			c.clk.hand = 0
		}
		e := c.clk.slots[c.clk.hand]
		c.clk.hand++
		switch {
		case e == nil:
		case e.used.Load():
			e.used.Store(false)
		default:
			c.remove(e)
			c.met.evict()
			return
		}
	}
}

// remove forgets e. The caller holds c.mu for writing.
func (c *cache) remove(e *cacheEntry) {
	delete(c.m, e.key)
	c.clk.slots[e.slot] = nil
	c.clk.free = append(c.clk.free, e.slot)
	c.clk.bytes -= e.size
}

// reset forgets every entry. The caller holds c.mu for writing.
func (c *cache) reset() {
	clear(c.m)
	clear(c.clk.slots) // let the sessions go even while the slice's array is kept for reuse
	c.clk = clock{slots: c.clk.slots[:0], free: c.clk.free[:0]}
}
