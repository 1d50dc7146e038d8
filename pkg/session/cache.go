package session

import (
	"context"
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"time"
)

// Notifier is implemented by stores that several replicas share: a change published by one replica
// reaches every replica's subscriber, so their caches drop the key.
type Notifier interface {
	// Publish announces that the record under key changed or is gone.
	Publish(ctx context.Context, key string) error
	// Subscribe delivers published keys to onKey until ctx is done. It calls onLive(true) once it is
	// subscribed (again) and onLive(false) whenever it may be missing messages (connection lost).
	Subscribe(ctx context.Context, onKey func(key string), onLive func(bool)) error
}

// CacheOptions configure the in-process session cache.
type CacheOptions struct {
	TTL        time.Duration    // how long an entry is trusted; also cut to the access token's expiry
	MaxEntries int              // bound on memory; default 100000
	Now        func() time.Time // default time.Now
}

// cache keeps recently loaded sessions in process. It trusts entries only while it is live: the store
// is not shared, or the invalidation subscription is up. It is safe for concurrent use.
type cache struct {
	o    CacheOptions
	live atomic.Bool
	// seq counts invalidations. A load notes it before reading the store and caches its result only if
	// no invalidation came in between: otherwise a drop racing the read could be undone by a stale put.
	seq atomic.Uint64

	mu sync.RWMutex
	m  map[[sha256.Size]byte]cacheEntry // by session hash, so a hit builds no key string
}

type cacheEntry struct {
	s     *Session
	until time.Time
}

func newCache(o CacheOptions) *cache {
	if o.MaxEntries <= 0 {
		o.MaxEntries = 100_000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &cache{o: o, m: make(map[[sha256.Size]byte]cacheEntry)}
}

// get returns the cached session, shared and read-only, or nil.
func (c *cache) get(key [sha256.Size]byte) *Session {
	if !c.live.Load() {
		return nil
	}
	c.mu.RLock()
	e, ok := c.m[key]
	c.mu.RUnlock()
	if !ok || !c.o.Now().Before(e.until) {
		return nil
	}
	return e.s
}

// put remembers s for the cache TTL, never past the access token's expiry, unless an invalidation
// arrived since seq was read.
func (c *cache) put(key [sha256.Size]byte, s *Session, seq uint64) {
	if !c.live.Load() {
		return
	}
	until := c.o.Now().Add(c.o.TTL)
	if !s.Expiry.IsZero() && s.Expiry.Before(until) {
		until = s.Expiry
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seq.Load() != seq {
		return
	}
	if _, ok := c.m[key]; !ok && len(c.m) >= c.o.MaxEntries {
		for k := range c.m { // full: drop an arbitrary entry, which only costs a store read
			delete(c.m, k)
			break
		}
	}
	c.m[key] = cacheEntry{s: s, until: until}
}

// drop forgets the session under a store key (as published between replicas); other keys are ignored.
func (c *cache) drop(key string) {
	h, ok := keyHash(key)
	c.mu.Lock()
	c.seq.Add(1)
	if ok {
		delete(c.m, h)
	}
	c.mu.Unlock()
}

// setLive switches trust on or off; either way the entries go, since messages may have been missed.
func (c *cache) setLive(live bool) {
	c.live.Store(live)
	c.mu.Lock()
	c.seq.Add(1)
	clear(c.m)
	c.mu.Unlock()
}

// sweep removes expired entries.
func (c *cache) sweep() {
	now := c.o.Now()
	c.mu.Lock()
	for k, e := range c.m {
		if !now.Before(e.until) {
			delete(c.m, k)
		}
	}
	c.mu.Unlock()
}

// EnableCache turns on the in-process session cache. With a store that implements Notifier, Run must
// be running for the cache to be used: entries are trusted only while the invalidation subscription
// is up. Call it before the Sessions is used.
func (m *Sessions) EnableCache(o CacheOptions) {
	m.cache = newCache(o)
	if _, shared := m.store.(Notifier); !shared {
		m.cache.setLive(true) // one process: local invalidation is all there is
	}
}

// Run keeps the cache honest until ctx is done: it listens for other replicas' changes and sweeps
// expired entries. Without a cache it returns when ctx is done.
func (m *Sessions) Run(ctx context.Context) error {
	if m.cache == nil {
		<-ctx.Done()
		return nil
	}
	go func() {
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				m.cache.sweep()
			}
		}
	}()
	n, ok := m.store.(Notifier)
	if !ok {
		<-ctx.Done()
		return nil
	}
	err := n.Subscribe(ctx, m.cache.drop, m.cache.setLive)
	m.cache.setLive(false)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// changed drops key from this replica's cache and tells the others.
func (m *Sessions) changed(ctx context.Context, key string) error {
	if m.cache == nil {
		return nil
	}
	m.cache.drop(key)
	if n, ok := m.store.(Notifier); ok {
		return n.Publish(ctx, key)
	}
	return nil
}
