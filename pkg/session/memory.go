package session

import (
	"context"
	"errors"
	"fmt"
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
// concurrent use, and it copies values in and out, so callers never share a slice with it.
type MemoryStore struct {
	now        func() time.Time
	sweepEvery time.Duration

	mu      sync.RWMutex
	entries map[string]memEntry
}

type memEntry struct {
	val     []byte
	expires time.Time
}

// NewMemoryStore returns an empty MemoryStore whose clock is now (time.Now when nil).
func NewMemoryStore(now func() time.Time) *MemoryStore {
	if now == nil {
		now = time.Now
	}
	return &MemoryStore{now: now, sweepEvery: sweepEvery, entries: make(map[string]memEntry)}
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

// Take returns the record under key and removes it, under one lock, so exactly one of several
// concurrent Takes wins. An expired record is removed and reported as ErrNotFound.
func (m *MemoryStore) Take(_ context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	e, ok := m.entries[key]
	delete(m.entries, key)
	m.mu.Unlock()
	if !ok || !m.now().Before(e.expires) {
		return nil, ErrNotFound
	}
	// The entry left the map, so nobody else holds e.val: no copy needed.
	return e.val, nil
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

// Len returns the number of entries held, including expired ones not yet swept.
func (m *MemoryStore) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.entries)
}

// Sweep removes every expired entry.
func (m *MemoryStore) Sweep() {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, e := range m.entries {
		if !now.Before(e.expires) {
			delete(m.entries, k)
		}
	}
}

// Run calls Sweep every minute until ctx is done, then returns nil (it fits an errgroup).
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
