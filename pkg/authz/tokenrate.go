package authz

import (
	"context"
	"sync"
	"time"
)

// tokenRate keeps this replica's refresh calls to the provider's token endpoint within a rate (Auth0's
// free plan allows 30 a second per tenant), so that a storm of sessions whose tokens expire together
// is spread out instead of answered with 429s that would end sessions. It is the generic cell rate
// algorithm: each call books the next slot on a schedule that may run up to one second ahead of now,
// which allows bursts of up to the rate and never more calls in any second than the rate plus that
// burst. A nil *tokenRate allows everything.
type tokenRate struct {
	interval time.Duration // between two calls at the steady rate
	ahead    time.Duration // how far ahead of now the schedule may run without waiting

	mu   sync.Mutex
	next time.Time // when the next call is due at the steady rate
}

// newTokenRate returns a limit of perSecond calls a second, or nil for no limit (perSecond 0).
func newTokenRate(perSecond int) *tokenRate {
	if perSecond <= 0 {
		return nil
	}
	interval := time.Second / time.Duration(perSecond)
	return &tokenRate{interval: interval, ahead: time.Second - interval}
}

// reserve books a call at now and returns how long the caller must wait before making it. When that
// would be longer than maxWait it books nothing and reports false.
func (l *tokenRate) reserve(now time.Time, maxWait time.Duration) (time.Duration, bool) {
	if l == nil {
		return 0, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	next := l.next
	if next.Before(now) {
		next = now
	}
	wait := max(next.Sub(now)-l.ahead, 0)
	if wait > maxWait {
		return 0, false
	}
	l.next = next.Add(l.interval)
	return wait, true
}

// sleep waits d or until ctx is done. A booked slot is not given back when ctx ends first: the limit
// holds even for calls that gave up.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
