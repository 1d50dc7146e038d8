package bearer

import (
	"sync"
	"time"
)

// sweepInterval is the least time between two scans of a full cache for expired entries; in between,
// a full cache makes room by dropping an arbitrary entry, so that a put never costs a scan.
const sweepInterval = 10 * time.Second

// cache keeps the claims of verified tokens by the SHA-256 of the token, each until its exp: never
// the token itself, and never a token that failed, so unauthenticated traffic cannot fill it (only an
// issuer can mint entries). A nil cache keeps nothing.
type cache struct {
	max int

	mu      sync.Mutex
	entries map[[32]byte]*Claims // an entry ends at its Claims.Expiry
	swept   time.Time            // last scan for expired entries
}

// newCache returns a cache of at most size entries, or nil (no cache) when size is not positive.
func newCache(size int) *cache {
	if size <= 0 {
		return nil
	}
	return &cache{max: size, entries: make(map[[32]byte]*Claims)}
}

// get returns the claims cached under key if their token has not expired at now; an expired entry is
// dropped.
func (c *cache) get(key [32]byte, now time.Time) (*Claims, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cl, ok := c.entries[key]
	if !ok {
		return nil, false
	}
	if !now.Before(cl.Expiry) {
		delete(c.entries, key)
		return nil, false
	}
	return cl, true
}

// put caches cl under key until cl.Expiry; a token already at or past its exp is not cached (it may
// still be inside Skew, and is then verified in full each time). A full cache first drops expired
// entries (at most once per sweepInterval), then arbitrary ones.
func (c *cache) put(key [32]byte, cl *Claims, now time.Time) {
	if c == nil || !now.Before(cl.Expiry) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.max {
		if !now.Before(c.swept.Add(sweepInterval)) {
			c.swept = now
			for k, e := range c.entries {
				if !now.Before(e.Expiry) {
					delete(c.entries, k)
				}
			}
		}
		for k := range c.entries {
			if len(c.entries) < c.max {
				break
			}
			delete(c.entries, k) // Go's map iteration starts at a random entry: a random eviction
		}
	}
	c.entries[key] = cl
}

// len returns the number of entries, expired ones included.
func (c *cache) len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
