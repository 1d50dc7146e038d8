package authz_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/pkg/session"
)

// leasePanics is a store whose Acquire (taken only by a refresh) panics while armed.
type leasePanics struct {
	session.Store
	armed atomic.Bool
}

func (s *leasePanics) Acquire(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	if s.armed.Load() {
		panic("store exploded in Acquire")
	}
	return s.Store.Acquire(ctx, key, owner, ttl)
}

// TestPanicInSharedRefresh: the refresh runs on singleflight's goroutine, where a panic could not be
// recovered and would end the process. It is raised again on the request's goroutine (where the fronts
// recover it) with the stack of where it happened, and the next request refreshes normally.
func TestPanicInSharedRefresh(t *testing.T) {
	store := &leasePanics{Store: session.NewMemoryStore(nil)}
	env := enginetest.New(t, enginetest.Options{Store: store, TokenTTL: 10 * time.Minute})
	cookie, _ := env.Login(t, "/")
	first := allow(t, env, cookie)

	store.armed.Store(true)
	env.Clock.Advance(9*time.Minute + 30*time.Second)
	v := func() (v any) {
		defer func() { v = recover() }()
		_, _ = env.Engine.Decide(ctx, enginetest.Navigate("/", cookie))
		return nil
	}()
	require.NotNil(t, v, "the request's goroutine panics")
	s, ok := v.(interface{ PanicStack() []byte })
	require.True(t, ok, "%T carries the stack of the original panic", v)
	require.Contains(t, string(s.PanicStack()), "leasePanics).Acquire")
	require.Contains(t, v.(error).Error(), "store exploded in Acquire")

	store.armed.Store(false)
	require.NotEqual(t, first, allow(t, env, cookie), "still serving: the next request refreshes")
}
