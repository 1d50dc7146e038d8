package authz_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/pkg/authz"
	"github.com/authbridge/authbridge/pkg/session"
)

// writeCounter counts every call that could write to the store.
type writeCounter struct {
	session.Store
	mu     sync.Mutex
	writes int
}

func (w *writeCounter) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writes
}

func (w *writeCounter) inc() { w.mu.Lock(); w.writes++; w.mu.Unlock() }

func (w *writeCounter) Put(ctx context.Context, k string, v []byte, ttl time.Duration) error {
	w.inc()
	return w.Store.Put(ctx, k, v, ttl)
}

func (w *writeCounter) Delete(ctx context.Context, k string) error {
	w.inc()
	return w.Store.Delete(ctx, k)
}

func (w *writeCounter) CompareAndSwap(ctx context.Context, k string, old, v []byte, ttl time.Duration) (bool, error) {
	w.inc()
	return w.Store.CompareAndSwap(ctx, k, old, v, ttl)
}

func (w *writeCounter) Acquire(ctx context.Context, k, owner string, ttl time.Duration) (bool, error) {
	w.inc()
	return w.Store.Acquire(ctx, k, owner, ttl)
}

func (w *writeCounter) Renew(ctx context.Context, k, owner string, ttl time.Duration) (bool, error) {
	w.inc()
	return w.Store.Renew(ctx, k, owner, ttl)
}

func (w *writeCounter) Release(ctx context.Context, k, owner string) error {
	w.inc()
	return w.Store.Release(ctx, k, owner)
}

func (w *writeCounter) IndexAdd(ctx context.Context, k, m, v string, ttl time.Duration) error {
	w.inc()
	return w.Store.IndexAdd(ctx, k, m, v, ttl)
}

func (w *writeCounter) IndexRemove(ctx context.Context, k string, ms ...string) error {
	w.inc()
	return w.Store.IndexRemove(ctx, k, ms...)
}

// TestLoginStartWritesNothing: starting logins, from one address and one browser or many, never
// writes to the store and never refuses anyone; the first write is the finished login.
func TestLoginStartWritesNothing(t *testing.T) {
	store := &writeCounter{}
	env := enginetest.New(t, enginetest.Options{Store: store})
	store.Store = session.NewMemoryStore(env.Clock.Now)
	same := newBrowser()
	for i := range 500 {
		for _, cookie := range []string{"", same.header()} {
			r := enginetest.Navigate("/page?i="+strings.Repeat("x", i%200), cookie)
			r.Client = "203.0.113.7"
			d, err := env.Engine.Decide(ctx, r)
			require.NoError(t, err)
			require.Equal(t, authz.Redirect, d.Outcome, d.Reason)
			if cookie != "" {
				same.apply(d.Cookies)
			}
		}
		require.LessOrEqual(t, len(same.pending()), 4)
	}
	d, err := env.Engine.Decide(ctx, enginetest.Navigate("/oauth2/start?rd=/x", ""))
	require.NoError(t, err)
	require.Equal(t, authz.Redirect, d.Outcome)
	require.Zero(t, store.count(), "no store write before a successful callback")

	cookie, _ := env.Login(t, "/") // a fresh browser from the same address
	require.NotEmpty(t, cookie)
	require.Positive(t, store.count())
}

func TestParallelLoginsInOneBrowser(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{})
	b := newBrowser()
	cbA := startLogin(t, env, b, "/tab-a")
	cbB := startLogin(t, env, b, "/tab-b")
	cbC := startLogin(t, env, b, "/tab-c")
	require.Len(t, b.pending(), 3)
	for _, tt := range []struct{ cb, want string }{{cbB, "/tab-b"}, {cbA, "/tab-a"}, {cbC, "/tab-c"}} { // any order
		d := finish(t, env.Engine, b.header(), tt.cb)
		require.Equal(t, authz.Redirect, d.Outcome, d.Reason)
		require.Equal(t, "https://"+enginetest.AppHost+tt.want, d.Location)
		b.apply(d.Cookies)
		allow(t, env, b.header())
	}
	require.Empty(t, b.pending(), "each finished login cleared its own cookie")
}

// TestPendingLoginsBounded: a browser keeps at most four logins in progress and 4 KiB of them, the
// oldest dropped first, so the Cookie header stays well under the 8 KB a proxy accepts in one line.
func TestPendingLoginsBounded(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{})
	b := newBrowser()
	b.apply([]*http.Cookie{{Name: "authbridge-login-garbage0", Value: "not-a-login"}, {Name: "theme", Value: "dark"}})
	var cbs []string
	for i := range 6 {
		cbs = append(cbs, startLogin(t, env, b, "/n"+string(rune('0'+i))))
		env.Clock.Advance(time.Second)
		require.LessOrEqual(t, len(b.pending()), 4)
	}
	require.NotContains(t, b.pending(), "authbridge-login-garbage0", "a cookie that does not open is dropped")
	require.Equal(t, "dark", b.values["theme"], "other cookies are left alone")
	for i, cb := range cbs {
		d := finish(t, env.Engine, b.header(), cb)
		if i < 2 {
			requireBadLogin(t, d) // the two oldest made room
			continue
		}
		require.Equal(t, authz.Redirect, d.Outcome, "login %d: %s", i, d.Reason)
	}

	long := newBrowser()
	for range 3 {
		startLogin(t, env, long, "/"+strings.Repeat("l", authz.MaxReturnURL-1))
		total := 0
		for _, n := range long.pending() {
			require.Less(t, len(n)+len(long.values[n]), 4000, "every cookie fits a browser's 4 KB")
			total += len(long.values[n])
		}
		require.LessOrEqual(t, total, 4<<10)
		require.Less(t, len(long.header()), 6<<10)
	}
}

func TestReturnURLTooLong(t *testing.T) {
	store := &writeCounter{}
	env := enginetest.New(t, enginetest.Options{Store: store})
	store.Store = session.NewMemoryStore(env.Clock.Now)
	longest := "/" + strings.Repeat("a", authz.MaxReturnURL-1)
	tests := []struct {
		name       string
		req        *authz.Request
		wantStatus int
	}{
		{"rd at the limit", enginetest.Navigate("/oauth2/start?rd="+longest, ""), http.StatusFound},
		{"rd over the limit", enginetest.Navigate("/oauth2/start?rd="+longest+"a", ""), http.StatusRequestURITooLong},
		{"rd over the limit, absolute", enginetest.Navigate("/oauth2/start?rd=https://"+enginetest.AppHost+longest, ""), http.StatusRequestURITooLong},
		{"navigation over the limit", enginetest.Navigate(longest+"a", ""), http.StatusRequestURITooLong},
		{"nginx mode never starts a login", &authz.Request{Method: "GET", Scheme: "https", Host: enginetest.AppHost,
			URI: longest + "a", FetchMode: "navigate", NoRedirect: true}, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := env.Engine.Decide(ctx, tt.req)
			require.NoError(t, err)
			require.Equal(t, tt.wantStatus, d.Status, d.Reason)
			if tt.wantStatus != http.StatusFound {
				require.Empty(t, d.Cookies, "nothing set")
			}
		})
	}
	require.Zero(t, store.count(), "nothing stored")
}
