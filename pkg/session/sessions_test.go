package session

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/redistest"
)

// fakeNow is a settable clock for MemoryStore.
type fakeNow struct{ t time.Time }

func (c *fakeNow) now() time.Time { return c.t }

func newTicket(t testing.TB) Ticket {
	t.Helper()
	tk, err := NewTicket()
	require.NoError(t, err)
	return tk
}

func testSession() *Session {
	return &Session{
		Subject: "auth0|42", Email: "user@example.com", Groups: []string{"admin"}, SID: "sid",
		AccessToken: "access", RefreshToken: "refresh", IDToken: "idtoken",
		Expiry: time.Unix(1_700_000_300, 0), CreatedAt: time.Unix(1_700_000_000, 0),
	}
}

func TestSessionsRoundTrip(t *testing.T) {
	ctx := t.Context()
	clk := &fakeNow{t: time.Unix(1_700_000_000, 0)}
	m := NewSessions(NewMemoryStore(clk.now))
	tk := newTicket(t)
	want := testSession()
	require.NoError(t, m.Save(ctx, tk, want, time.Hour))

	got, err := m.Load(ctx, tk)
	require.NoError(t, err)
	requireSameSession(t, want, got)

	// A ticket parsed back from its cookie value opens the same session.
	parsed, err := ParseTicket(tk.String())
	require.NoError(t, err)
	got, err = m.Load(ctx, parsed)
	require.NoError(t, err)
	requireSameSession(t, want, got)

	clk.t = clk.t.Add(time.Hour)
	_, err = m.Load(ctx, tk)
	require.ErrorIs(t, err, ErrNotFound, "expired with the store TTL")
}

func TestSessionsLoadNotFound(t *testing.T) {
	ctx := t.Context()
	store := NewMemoryStore(nil)
	m := NewSessions(store)
	reg := prometheus.NewRegistry()
	m.EnableMetrics(reg)
	unreadable := func() float64 {
		mfs, err := reg.Gather()
		require.NoError(t, err)
		for _, mf := range mfs {
			if mf.GetName() == "authbridge_session_records_unreadable_total" {
				return mf.GetMetric()[0].GetCounter().GetValue()
			}
		}
		t.Fatal("no authbridge_session_records_unreadable_total")
		return 0
	}
	tk := newTicket(t)
	require.NoError(t, m.Save(ctx, tk, testSession(), time.Hour))

	otherKey := tk
	otherKey.key[0] ^= 1
	moved := newTicket(t)
	sealed, err := store.Get(ctx, tk.storeKey())
	require.NoError(t, err)
	// The record copied under another ticket's key: the store key is bound in as additional data.
	require.NoError(t, store.Put(ctx, moved.storeKey(), sealed, time.Hour))
	tampered := newTicket(t)
	bad := bytes.Clone(sealed)
	bad[len(bad)-1] ^= 1
	require.NoError(t, store.Put(ctx, tampered.storeKey(), bad, time.Hour))
	short := newTicket(t)
	require.NoError(t, store.Put(ctx, short.storeKey(), []byte{1, 2, 3}, time.Hour))

	tests := []struct {
		name       string
		tk         Ticket
		unreadable bool // a record is there, but it does not open: counted in the metric
	}{
		{"never saved", newTicket(t), false},
		{"same id, other key", otherKey, false},
		{"record moved to another key", moved, true},
		{"tampered ciphertext", tampered, true},
		{"shorter than a nonce", short, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := unreadable()
			_, err := m.Load(ctx, tt.tk)
			require.ErrorIs(t, err, ErrNotFound)
			require.Equal(t, tt.unreadable, unreadable() == before+1, "counted as unreadable")
		})
	}
}

func TestSessionsDelete(t *testing.T) {
	ctx := t.Context()
	m := NewSessions(NewMemoryStore(nil))
	tk := newTicket(t)
	require.NoError(t, m.Save(ctx, tk, testSession(), time.Hour))
	require.NoError(t, m.Delete(ctx, tk))
	_, err := m.Load(ctx, tk)
	require.ErrorIs(t, err, ErrNotFound)
	require.NoError(t, m.Delete(ctx, tk), "deleting twice")
}

var errDown = errors.New("store down")

// downStore fails every call, like a Redis that cannot be reached.
type downStore struct{}

func (downStore) Get(context.Context, string) ([]byte, error)              { return nil, errDown }
func (downStore) Put(context.Context, string, []byte, time.Duration) error { return errDown }
func (downStore) Delete(context.Context, string) error                     { return errDown }
func (downStore) Ping(context.Context) error                               { return errDown }
func (downStore) CompareAndSwap(context.Context, string, []byte, []byte, time.Duration) (bool, error) {
	return false, errDown
}
func (downStore) Acquire(context.Context, string, string, time.Duration) (bool, error) {
	return false, errDown
}
func (downStore) Renew(context.Context, string, string, time.Duration) (bool, error) {
	return false, errDown
}
func (downStore) Release(context.Context, string, string) error { return errDown }
func (downStore) IndexAdd(context.Context, string, string, string, time.Duration) error {
	return errDown
}
func (downStore) Index(context.Context, string) (map[string]string, error) { return nil, errDown }
func (downStore) IndexRemove(context.Context, string, ...string) error     { return errDown }

func TestSessionsStoreDown(t *testing.T) {
	ctx := t.Context()
	m := NewSessions(downStore{})
	tk := newTicket(t)
	_, err := m.Load(ctx, tk)
	require.ErrorIs(t, err, errDown)
	require.NotErrorIs(t, err, ErrNotFound, "an unreachable store is not a logged-out user")
	require.ErrorIs(t, m.Save(ctx, tk, testSession(), time.Hour), errDown)
	require.ErrorIs(t, m.Delete(ctx, tk), errDown)
	_, err = m.Once(ctx, "login", "state", time.Minute)
	require.ErrorIs(t, err, errDown)
}

// TestSessionsNoPlaintextInRedis saves sessions full of marker strings into a real Redis and reads
// back every key and value: neither tokens nor identity nor the ticket may appear.
func TestSessionsNoPlaintextInRedis(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	ctx := t.Context()
	m := NewSessions(NewRedisStore(c, ""))

	s := &Session{
		Subject: "MARKER-SUBJECT", Email: "marker-email@example.com", Groups: []string{"MARKER-GROUP"},
		SID: "MARKER-SID", AccessToken: "MARKER-ACCESS-TOKEN", RefreshToken: "MARKER-REFRESH-TOKEN",
		IDToken: "MARKER-ID-TOKEN", Expiry: time.Now().Add(time.Hour), CreatedAt: time.Now(),
	}
	var forbidden [][]byte
	for _, v := range []string{s.Subject, s.Email, s.Groups[0], s.SID, s.AccessToken, s.RefreshToken, s.IDToken, "MARKER"} {
		forbidden = append(forbidden, []byte(v), []byte(strings.ToLower(v)))
	}
	const n = 3
	for range n {
		tk := newTicket(t)
		require.NoError(t, m.Save(ctx, tk, s, time.Hour))
		got, err := m.Load(ctx, tk)
		require.NoError(t, err)
		require.Equal(t, s.AccessToken, got.AccessToken)
		for _, secret := range [][]byte{tk.id[:], tk.key[:]} {
			forbidden = append(forbidden, secret,
				[]byte(base64.RawURLEncoding.EncodeToString(secret)),
				[]byte(base64.StdEncoding.EncodeToString(secret)))
		}
		forbidden = append(forbidden, []byte(tk.String()), []byte(tk.LogID()))
	}
	// A finished login leaves only a marker under the hash of its state, never the state itself.
	first, err := m.Once(ctx, "login", "MARKER-STATE", time.Minute)
	require.NoError(t, err)
	require.True(t, first)

	var keys []string
	iter := c.Scan(ctx, 0, "*", 100).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	require.NoError(t, iter.Err())
	require.Len(t, keys, n+1+2, "n sessions, one login marker, the subject's and the sid's index")
	for _, k := range keys {
		var vals [][]byte // a record, or an index's members and values
		switch typ := c.Type(ctx, k).Val(); typ {
		case "string":
			v, err := c.Get(ctx, k).Bytes()
			require.NoError(t, err)
			vals = append(vals, v)
		case "hash":
			h, err := c.HGetAll(ctx, k).Result()
			require.NoError(t, err)
			for f, v := range h {
				vals = append(vals, []byte(f), []byte(v))
			}
		default:
			t.Fatalf("key %q has type %q", k, typ)
		}
		ttl, err := c.PTTL(ctx, k).Result()
		require.NoError(t, err)
		require.Positive(t, ttl, "every key expires")
		for _, f := range forbidden {
			require.False(t, bytes.Contains([]byte(k), f), "key %q holds %q", k, f)
			for _, v := range vals {
				require.False(t, bytes.Contains(v, f), "value under %q holds %q", k, f)
			}
		}
	}
}

func BenchmarkSessionsLoad(b *testing.B) {
	ctx := b.Context()
	m := NewSessions(NewMemoryStore(nil))
	tk := newTicket(b)
	s := testSession()
	// Token sizes like Auth0's: a JWT access token, an ID token, an opaque refresh token.
	s.AccessToken, s.IDToken, s.RefreshToken = strings.Repeat("a", 900), strings.Repeat("i", 1200), strings.Repeat("r", 64)
	require.NoError(b, m.Save(ctx, tk, s, time.Hour))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Load(ctx, tk); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSessionsIndexFollowsLiveSessions: a user's index holds no more than the sessions whose records can
// still be alive, however many logins came before; yet sign-out everywhere and back-channel logout reach
// every live session, including one whose life a later write (a refresh, a touch) extended past the
// others.
func TestSessionsIndexFollowsLiveSessions(t *testing.T) {
	ctx := t.Context()
	clk := &fakeNow{t: time.Unix(1_700_000_000, 0)}
	store := NewMemoryStore(clk.now)
	m := NewSessions(store)
	login := func(sid string, ttl time.Duration) (Ticket, *Session) {
		tk := newTicket(t)
		s := &Session{Subject: "alice", SID: sid, AccessToken: "at", CreatedAt: clk.t, Touched: clk.t}
		require.NoError(t, m.Save(ctx, tk, s, ttl))
		return tk, s
	}
	members := func(kind, v string) int {
		ix, err := store.Index(ctx, indexKey(kind, v))
		require.NoError(t, err)
		return len(ix)
	}

	// A thousand logins a minute apart, each session living an hour: the index holds the last hour's.
	for range 1000 {
		login("", time.Hour)
		clk.t = clk.t.Add(time.Minute)
	}
	require.Equal(t, 60, members(subjectIndex, "alice"), "logged in 1 to 59 minutes ago, and the one that ended just now (its member lives indexSlack longer)")
	require.Len(t, store.indexes[indexKey(subjectIndex, "alice")].members, 61, "the ones that ended go at the next add; ended members were dropped, not only hidden")

	kept, _ := login("sid-1", 10*time.Minute) // touched later: outlives every other session
	loaded, err := m.LoadFresh(ctx, kept)
	require.NoError(t, err)
	clk.t = clk.t.Add(5 * time.Minute)
	ok, err := m.Update(ctx, kept, loaded, 3*time.Hour)
	require.NoError(t, err)
	require.True(t, ok)
	other, _ := login("sid-1", 10*time.Minute)

	clk.t = clk.t.Add(2 * time.Hour) // every session but the touched one has ended
	_, err = m.LoadFresh(ctx, other)
	require.ErrorIs(t, err, ErrNotFound)
	require.Equal(t, 1, members(subjectIndex, "alice"))
	require.Equal(t, 1, members(sidIndex, "sid-1"))
	n, err := m.EndSID(ctx, "sid-1")
	require.NoError(t, err)
	require.Equal(t, 1, n, "back-channel logout ends the touched session")
	_, err = m.LoadFresh(ctx, kept)
	require.ErrorIs(t, err, ErrNotFound)

	kept, _ = login("", time.Hour)
	n, err = m.EndSubject(ctx, "alice")
	require.NoError(t, err)
	require.Equal(t, 1, n, "sign-out everywhere ends the live session")
	_, err = m.LoadFresh(ctx, kept)
	require.ErrorIs(t, err, ErrNotFound)
}

// slowSwap is a MemoryStore whose compare-and-swap lands a while after the call before it, as a Redis
// command does after the index writes that Update sends first (network, a retry, another cluster node).
type slowSwap struct {
	*MemoryStore
	clk   *fakeNow
	delay time.Duration
}

func (s slowSwap) CompareAndSwap(ctx context.Context, key string, old, val []byte, ttl time.Duration) (bool, error) {
	s.clk.t = s.clk.t.Add(s.delay)
	return s.MemoryStore.CompareAndSwap(ctx, key, old, val, ttl)
}

// TestSessionsIndexOutlivesUpdatedRecord: Update writes the index entries before the record, so an entry
// ending exactly ttl after its write would end before the record it names; in that gap the session is
// alive yet sign-out everywhere and back-channel logout miss it. Each row is a gap after the index write.
func TestSessionsIndexOutlivesUpdatedRecord(t *testing.T) {
	for _, delay := range []time.Duration{time.Millisecond, 150 * time.Millisecond, 2 * time.Second} {
		t.Run(delay.String(), func(t *testing.T) {
			ctx := t.Context()
			clk := &fakeNow{t: time.Unix(1_700_000_000, 0)}
			store := NewMemoryStore(clk.now)
			m := NewSessions(slowSwap{MemoryStore: store, clk: clk, delay: delay})
			tk := newTicket(t)
			s := &Session{Subject: "alice", SID: "sid-1", AccessToken: "at", CreatedAt: clk.t, Touched: clk.t}
			require.NoError(t, m.Save(ctx, tk, s, time.Minute))
			loaded, err := m.LoadFresh(ctx, tk)
			require.NoError(t, err)
			ok, err := m.Update(ctx, tk, loaded, time.Hour)
			require.NoError(t, err)
			require.True(t, ok)

			clk.t = clk.t.Add(time.Hour - delay/2) // the record has delay/2 to live
			_, err = m.LoadFresh(ctx, tk)
			require.NoError(t, err, "the record is still alive")
			n, err := m.EndSID(ctx, "sid-1")
			require.NoError(t, err)
			require.Equal(t, 1, n, "back-channel logout reaches the live session")
			_, err = m.LoadFresh(ctx, tk)
			require.ErrorIs(t, err, ErrNotFound)
		})
	}
}
