package session

import (
	"context"
	"crypto/sha256"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Notifier is implemented by stores that several replicas share: a change published by one replica
// reaches every replica's subscriber, so their caches drop the key.
type Notifier interface {
	// Publish announces that the record under key changed or is gone.
	Publish(ctx context.Context, key string) error
	// Subscribe delivers published keys to onKey until ctx is done. It calls onConfirm(sent) each time it
	// learns that the subscription is current as of sent: every key published since it (re)subscribed and
	// before sent has been delivered. It does so at least every HeartbeatInterval while the store answers
	// (a round trip on the subscription that left at sent). It calls onLost whenever it may have missed
	// messages (the connection broke or had to be replaced).
	Subscribe(ctx context.Context, onKey func(key string), onConfirm func(sent time.Time), onLost func()) error
}

// Liveness of the invalidation channel. With a shared store the cache serves an entry only while the
// latest confirmation left at most CacheLivenessBound ago, so when the store stalls (a frozen process
// keeps its connections open, and nothing reports an error) the cache stops serving within that bound
// and every check goes to the store, whose timeout turns the stall into a 503.
const (
	// HeartbeatInterval is how often the subscriber confirms that its subscription is current.
	HeartbeatInterval = 200 * time.Millisecond
	// CacheLivenessBound is how long after the last confirmed heartbeat the cache still serves: three
	// heartbeats, so that one late round trip (a GC pause, a busy node) does not empty the cache.
	CacheLivenessBound = 3 * HeartbeatInterval
)

// CacheOptions configure the in-process session cache.
type CacheOptions struct {
	// TTL is how long an entry is trusted. An entry is also never kept past the access token's expiry,
	// nor past the session's own end (see Idle and Max).
	TTL time.Duration
	// Idle and Max are the lifetimes the session records are written with: the store expires a record
	// Idle after its Touched time and Max after its CreatedAt (whichever comes first), and the cache keeps
	// an entry no longer than that. 0 means no such bound.
	Idle, Max  time.Duration
	MaxEntries int // bound on memory; default 100000
	// Now is the clock, default time.Now. Keep the default with a shared store: its heartbeats are timed
	// on the real (monotonic) clock.
	Now func() time.Time
}

// notConfirmed is cache.confirmed while the invalidation channel is down.
const notConfirmed = math.MinInt64

// cache keeps recently loaded sessions in process. It trusts entries only while it is live: the store
// is not shared, or the invalidation subscription confirmed within CacheLivenessBound. It is safe for
// concurrent use.
type cache struct {
	o      CacheOptions
	shared bool      // trust follows the invalidation channel's confirmations
	base   time.Time // o.Now() at creation; confirmed counts from here (on the monotonic clock in production)
	// confirmed is when the latest confirmation left, in nanoseconds after base, or notConfirmed. A hit
	// reads it with one atomic load.
	confirmed atomic.Int64
	// seq counts invalidations. A load notes it before reading the store and caches its result only if
	// no invalidation came in between: otherwise a drop racing the read could be undone by a stale put.
	seq atomic.Uint64

	mu sync.RWMutex
	m  map[[sha256.Size]byte]cacheEntry // by session hash, so a hit builds no key string

	met *metrics // nil unless the Sessions has metrics
}

type cacheEntry struct {
	s     *Session
	until time.Time
}

func newCache(o CacheOptions, shared bool) *cache {
	if o.MaxEntries <= 0 {
		o.MaxEntries = 100_000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	c := &cache{o: o, shared: shared, base: o.Now(), m: make(map[[sha256.Size]byte]cacheEntry)}
	c.confirmed.Store(notConfirmed)
	return c
}

// live reports whether entries may be served and stored at now.
func (c *cache) live(now time.Time) bool {
	// confirmed + bound cannot overflow: notConfirmed + bound is still far below any now.
	return !c.shared || now.Sub(c.base) < time.Duration(c.confirmed.Load())+CacheLivenessBound
}

// get returns the cached session, shared and read-only, or nil, and how the lookup went.
func (c *cache) get(key [sha256.Size]byte) (*Session, lookup) {
	now := c.o.Now()
	if !c.live(now) {
		return nil, lookupBypassed
	}
	c.mu.RLock()
	e, ok := c.m[key]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return nil, lookupMiss
	}
	return e.s, lookupHit
}

// put remembers s for the cache TTL, never past the access token's expiry or the session's idle or
// absolute end, unless an invalidation arrived since seq was read.
func (c *cache) put(key [sha256.Size]byte, s *Session, seq uint64) {
	now := c.o.Now()
	if !c.live(now) {
		return
	}
	until := now.Add(c.o.TTL)
	if !s.Expiry.IsZero() && s.Expiry.Before(until) {
		until = s.Expiry
	}
	// The store's TTL runs from Touched (every write sets Touched and a TTL of at most Idle), so the
	// record is gone by Touched+Idle unless touched again, which invalidates this entry anyway.
	if c.o.Idle > 0 && s.Touched.Add(c.o.Idle).Before(until) {
		until = s.Touched.Add(c.o.Idle)
	}
	if c.o.Max > 0 && s.CreatedAt.Add(c.o.Max).Before(until) {
		until = s.CreatedAt.Add(c.o.Max)
	}
	if !now.Before(until) {
		return
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
	c.met.invalidate(false)
}

// confirm records that the invalidation channel was current as of sent. Coming back after a gap (lost,
// or stale for longer than CacheLivenessBound) it first empties the cache: messages may have been missed
// meanwhile, and a load that began before now must not be stored either.
func (c *cache) confirm(sent time.Time) {
	if !c.live(c.o.Now()) {
		c.clear()
	}
	if at := int64(sent.Sub(c.base)); at > c.confirmed.Load() {
		c.confirmed.Store(at) // only the subscriber goroutine writes, so load-then-store does not race
	}
}

// lose stops trust at once and empties the cache: the channel may be missing messages.
func (c *cache) lose() {
	c.confirmed.Store(notConfirmed)
	c.clear()
}

func (c *cache) clear() {
	c.mu.Lock()
	c.seq.Add(1)
	clear(c.m)
	c.mu.Unlock()
	c.met.invalidate(true)
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
// confirms that it is current (see CacheLivenessBound). Call it before the Sessions is used.
func (m *Sessions) EnableCache(o CacheOptions) {
	_, shared := m.store.(Notifier) // without one, local invalidation is all there is
	m.cache = newCache(o, shared)
	m.cache.met = m.met
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
	err := n.Subscribe(ctx, m.cache.drop, m.cache.confirm, m.cache.lose)
	m.cache.lose()
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
