package authz_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/pkg/authz"
	"github.com/authbridge/authbridge/pkg/session"
)

// ttlStore records the TTL of every session write and keeps records stretch times longer than asked
// (stretch 0 or 1: as asked), as a store whose expiry cannot be relied on would.
type ttlStore struct {
	session.Store
	stretch time.Duration
	mu      sync.Mutex
	ttls    []time.Duration
}

func (s *ttlStore) keep(ttl time.Duration) time.Duration {
	s.mu.Lock()
	s.ttls = append(s.ttls, ttl)
	s.mu.Unlock()
	return ttl * max(s.stretch, 1)
}

func (s *ttlStore) last() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ttls[len(s.ttls)-1]
}

func (s *ttlStore) Put(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	return s.Store.Put(ctx, key, val, s.keep(ttl))
}

func (s *ttlStore) CompareAndSwap(ctx context.Context, key string, old, val []byte, ttl time.Duration) (bool, error) {
	return s.Store.CompareAndSwap(ctx, key, old, val, s.keep(ttl))
}

// TestMaxLifetimeEachSafeguard: the absolute lifetime holds by each of its two safeguards alone. The
// engine refuses a session past it even if the store still has the record, and every write asks the
// store to expire the record by then even if the engine's check were gone.
func TestMaxLifetimeEachSafeguard(t *testing.T) {
	lifetimes := authz.Lifetimes{Idle: time.Hour, Max: 3 * time.Hour, Login: time.Minute}
	t.Run("the engine's check, with a store that keeps records longer", func(t *testing.T) {
		store := &ttlStore{stretch: 100}
		env := enginetest.New(t, enginetest.Options{Store: store, TokenTTL: 1000 * time.Hour, Engine: authz.Options{Lifetimes: lifetimes}})
		store.Store = session.NewMemoryStore(env.Clock.Now)
		cookie, _ := env.Login(t, "/")
		for range 5 {
			env.Clock.Advance(30 * time.Minute)
			allow(t, env, cookie)
		}
		env.Clock.Advance(30*time.Minute - time.Second)
		allow(t, env, cookie) // a second before the end
		env.Clock.Advance(time.Second)
		d, err := env.Engine.Decide(ctx, enginetest.Navigate("/", cookie))
		require.NoError(t, err)
		require.Equal(t, authz.Redirect, d.Outcome, "refused at the absolute lifetime: %s", d.Reason)
		require.Contains(t, d.Reason, "maximum lifetime")
		// The record is deleted, not merely refused.
		tk, err := session.ParseTicket(cookie[len("authbridge="):])
		require.NoError(t, err)
		_, err = env.Sessions.LoadFresh(ctx, tk)
		require.ErrorIs(t, err, session.ErrNotFound)
	})
	t.Run("the store TTL", func(t *testing.T) {
		tests := []struct {
			name      string
			lifetimes authz.Lifetimes
			use       time.Duration // of steady use (a request every 10 minutes) before the last write
			wantTTL   time.Duration
		}{
			{"login: the idle timeout", lifetimes, 0, time.Hour},
			{"login: the absolute lifetime when shorter than the idle timeout", authz.Lifetimes{Idle: 24 * time.Hour, Max: 3 * time.Hour, Login: time.Minute}, 0, 3 * time.Hour},
			{"renewal near the end: what is left", lifetimes, 2*time.Hour + 40*time.Minute, 20 * time.Minute},
			{"renewal early: the idle timeout", lifetimes, time.Hour, time.Hour},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				store := &ttlStore{}
				env := enginetest.New(t, enginetest.Options{Store: store, TokenTTL: 1000 * time.Hour, Engine: authz.Options{Lifetimes: tt.lifetimes}})
				store.Store = session.NewMemoryStore(env.Clock.Now)
				cookie, _ := env.Login(t, "/")
				for used := time.Duration(0); used < tt.use; used += 10 * time.Minute {
					env.Clock.Advance(10 * time.Minute)
					allow(t, env, cookie)
				}
				require.Equal(t, tt.wantTTL, store.last())
			})
		}
	})
}

// TestLoginReplacesSession: a login in a browser that already has a session deletes that session (the
// session-fixation defence: a cookie planted before the login is worth nothing after it).
func TestLoginReplacesSession(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{})
	old, _ := env.Login(t, "/")
	allow(t, env, old)

	d, err := env.Engine.Decide(ctx, enginetest.Navigate("/", ""))
	require.NoError(t, err)
	cb := env.FollowToProvider(t, d.Location)
	d, err = env.Engine.Decide(ctx, enginetest.Navigate(cb, old+"; "+enginetest.CookieHeader(d.Cookies)))
	require.NoError(t, err)
	require.Equal(t, authz.Redirect, d.Outcome, d.Reason)
	fresh := enginetest.CookieHeader(d.Cookies)
	require.NotEqual(t, old, fresh)
	allow(t, env, fresh)

	d, err = env.Engine.Decide(ctx, &authz.Request{Method: "GET", Scheme: "https", Host: enginetest.AppHost, URI: "/api", Cookie: old})
	require.NoError(t, err)
	require.Equal(t, http.StatusUnauthorized, d.Status, "the replaced session is gone")
}
