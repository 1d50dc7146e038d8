package session

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// Incr counts under key in a fixed window of ttl from the first increment. The count is kept as a
// decimal record, as Redis keeps it.
func (m *MemoryStore) Incr(_ context.Context, key string, ttl time.Duration) (int64, error) {
	if ttl <= 0 {
		return 0, fmt.Errorf("incr: %w", errTTL)
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	if !ok || !now.Before(e.expires) {
		e = memEntry{val: []byte("0"), expires: now.Add(ttl)}
	}
	n, err := strconv.ParseInt(string(e.val), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("incr: record is not a counter")
	}
	n++
	e.val = strconv.AppendInt(nil, n, 10)
	m.entries[key] = e
	return n, nil
}
