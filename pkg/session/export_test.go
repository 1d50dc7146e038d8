package session

import "time"

// SetSweepEvery lets tests run MemoryStore.Run with a short period.
func SetSweepEvery(m *MemoryStore, d time.Duration) { m.sweepEvery = d }
