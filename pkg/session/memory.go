package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"
)

// errTTL is returned by a Store's Put for a TTL that is not positive: every record must expire.
var errTTL = errors.New("session: ttl must be positive")

// sweepEvery is how often MemoryStore.Run removes expired entries.
const sweepEvery = time.Minute

var _ Store = (*MemoryStore)(nil)

// MemoryStore is a Store in process memory, for a single replica (the demo) and tests. Entries expire
// on read; Sweep (or Run) frees the memory of expired entries nobody reads again. It is safe for
// concurrent use, and it copies values in and out, so callers never share a slice or map with it.
// Every compound operation (CompareAndSwap, the lease methods, IndexAdd) runs under one lock.
type MemoryStore struct {
	now        func() time.Time
	sweepEvery time.Duration

	mu      sync.RWMutex
	entries map[string]memEntry // records and leases (a lease's value is its owner)
	indexes map[string]memIndex
}

type memEntry struct {
	val     []byte
	expires time.Time
}

type memIndex struct {
	members map[string]string
	expires time.Time
}

// NewMemoryStore returns an empty MemoryStore whose clock is now (time.Now when nil).
func NewMemoryStore(now func() time.Time) *MemoryStore {
	if now == nil {
		now = time.Now
	}
	return &MemoryStore{now: now, sweepEvery: sweepEvery, entries: make(map[string]memEntry),
		indexes: make(map[string]memIndex)}
}

// Get returns a copy of the record under key, or ErrNotFound if it is absent or expired.
func (m *MemoryStore) Get(_ context.Context, key string) ([]byte, error) {
	m.mu.RLock()
	e, ok := m.entries[key]
	m.mu.RUnlock()
	if !ok || !m.now().Before(e.expires) {
		return nil, ErrNotFound
	}
	return clone(e.val), nil
}

// Put stores a copy of val under key until ttl has passed; ttl must be positive.
func (m *MemoryStore) Put(_ context.Context, key string, val []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("put: %w", errTTL)
	}
	e := memEntry{val: clone(val), expires: m.now().Add(ttl)}
	m.mu.Lock()
	m.entries[key] = e
	m.mu.Unlock()
	return nil
}

// Delete removes the record under key; an absent key is not an error.
func (m *MemoryStore) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	delete(m.entries, key)
	m.mu.Unlock()
	return nil
}

// Ping always succeeds: memory is always reachable.
func (m *MemoryStore) Ping(context.Context) error { return nil }

// CompareAndSwap stores a copy of val under key for ttl if the live record there equals old byte for
// byte, and reports whether it did. A missing or expired record never matches, not even an empty old.
func (m *MemoryStore) CompareAndSwap(_ context.Context, key string, old, val []byte, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, fmt.Errorf("compare and swap: %w", errTTL)
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	if !ok || !now.Before(e.expires) || !bytes.Equal(e.val, old) {
		return false, nil
	}
	m.entries[key] = memEntry{val: clone(val), expires: now.Add(ttl)}
	return true, nil
}

// Acquire stores owner under key for ttl unless a live entry is there, and reports whether it did.
// Like SET NX, it reports false to an owner that already holds the lease: that owner calls Renew.
func (m *MemoryStore) Acquire(_ context.Context, key, owner string, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, fmt.Errorf("acquire: %w", errTTL)
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.entries[key]; ok && now.Before(e.expires) {
		return false, nil
	}
	m.entries[key] = memEntry{val: []byte(owner), expires: now.Add(ttl)}
	return true, nil
}

// Renew moves the expiry of owner's live lease under key to ttl from now; false if owner does not
// hold it.
func (m *MemoryStore) Renew(_ context.Context, key, owner string, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, fmt.Errorf("renew: %w", errTTL)
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	if !ok || !now.Before(e.expires) || string(e.val) != owner {
		return false, nil
	}
	e.expires = now.Add(ttl)
	m.entries[key] = e
	return true, nil
}

// Release deletes the lease under key if owner holds it; otherwise it does nothing.
func (m *MemoryStore) Release(_ context.Context, key, owner string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	// An expired lease may go whoever held it: it is dead either way.
	if e, ok := m.entries[key]; ok && string(e.val) == owner {
		delete(m.entries, key)
	}
	return nil
}

// IndexAdd sets member to value in the index under key and moves the index's expiry to ttl from now
// unless it is already later. An expired index starts afresh, empty.
func (m *MemoryStore) IndexAdd(_ context.Context, key, member, value string, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("index add: %w", errTTL)
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	ix, ok := m.indexes[key]
	if !ok || !now.Before(ix.expires) {
		ix = memIndex{members: make(map[string]string)}
	}
	ix.members[member] = value
	if exp := now.Add(ttl); exp.After(ix.expires) {
		ix.expires = exp
	}
	m.indexes[key] = ix
	return nil
}

// Index returns a copy of the live index under key; an absent or expired index is an empty map.
func (m *MemoryStore) Index(_ context.Context, key string) (map[string]string, error) {
	now := m.now()
	m.mu.RLock()
	defer m.mu.RUnlock()
	ix, ok := m.indexes[key]
	if !ok || !now.Before(ix.expires) {
		return map[string]string{}, nil
	}
	return maps.Clone(ix.members), nil
}

// IndexRemove deletes members from the index under key; an index left empty is removed, as in Redis.
func (m *MemoryStore) IndexRemove(_ context.Context, key string, members ...string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	ix, ok := m.indexes[key]
	if !ok {
		return nil
	}
	for _, mb := range members {
		delete(ix.members, mb)
	}
	if len(ix.members) == 0 {
		delete(m.indexes, key)
	}
	return nil
}

// Len returns the number of records, leases and indexes held, including expired ones not yet swept.
func (m *MemoryStore) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.entries) + len(m.indexes)
}

// Sweep removes every expired record, lease and index.
func (m *MemoryStore) Sweep() {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, e := range m.entries {
		if !now.Before(e.expires) {
			delete(m.entries, k)
		}
	}
	for k, ix := range m.indexes {
		if !now.Before(ix.expires) {
			delete(m.indexes, k)
		}
	}
}

// SetSweepEvery sets how often Run sweeps (a minute unless set); call it before Run.
func (m *MemoryStore) SetSweepEvery(d time.Duration) { m.sweepEvery = d }

// Run calls Sweep every minute (see SetSweepEvery) until ctx is done, then returns nil (it fits an errgroup).
func (m *MemoryStore) Run(ctx context.Context) error {
	t := time.NewTicker(m.sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			m.Sweep()
		}
	}
}

func clone(b []byte) []byte {
	// Non-nil even when empty, so a stored empty record reads back as present, not as nil.
	return append(make([]byte, 0, len(b)), b...)
}
