package sessiontest

import (
	"context"
	"sync/atomic"

	"github.com/authbridge/authbridge/pkg/session"
)

// Panics is a Store whose Get and Delete panic while Armed is set, like a bug deep in a request path,
// for tests that prove such a panic is answered fail-closed. Unarmed, it passes every call to Store.
type Panics struct {
	session.Store
	Armed atomic.Bool
}

// Get panics with a real runtime error while armed.
func (s *Panics) Get(ctx context.Context, key string) ([]byte, error) {
	if s.Armed.Load() {
		var m map[string]int
		m["boom"]++ // assignment to entry in nil map
	}
	return s.Store.Get(ctx, key)
}

// Delete panics while armed.
func (s *Panics) Delete(ctx context.Context, key string) error {
	if s.Armed.Load() {
		panic("store exploded in Delete")
	}
	return s.Store.Delete(ctx, key)
}
