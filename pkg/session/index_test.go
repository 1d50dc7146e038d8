package session

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/redistest"
)

// indexStores are the stores the index tests run on: the memory store and a real redis-server.
func indexStores(t *testing.T) map[string]func(t *testing.T) Store {
	srv := redistest.Start(t)
	return map[string]func(t *testing.T) Store{
		"memory": func(*testing.T) Store { return NewMemoryStore(time.Now) },
		"redis": func(t *testing.T) Store {
			c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
			t.Cleanup(func() { _ = c.Close() })
			return NewRedisStore(c, t.Name()+":")
		},
	}
}

// saveAs stores a session of subject from provider session sid and returns its ticket.
func saveAs(t *testing.T, m *Sessions, subject, sid string) Ticket {
	t.Helper()
	tk := newTicket(t)
	s := &Session{Subject: subject, SID: sid, AccessToken: "at", CreatedAt: time.Now()}
	require.NoError(t, m.Save(t.Context(), tk, s, time.Hour))
	return tk
}

// alive reports which of the tickets still open a session.
func alive(t *testing.T, m *Sessions, tks ...Ticket) []bool {
	t.Helper()
	out := make([]bool, len(tks))
	for i, tk := range tks {
		_, err := m.LoadFresh(t.Context(), tk)
		if err != nil {
			require.ErrorIs(t, err, ErrNotFound)
		}
		out[i] = err == nil
	}
	return out
}

// TestEndSID: back-channel logout by sid ends exactly the sessions that came from that provider session,
// whoever they belong to, and nothing else; a sid nobody has ends nothing. Saving indexes by sid: without
// that, the logout would end nothing.
func TestEndSID(t *testing.T) {
	for name, newStore := range indexStores(t) {
		t.Run(name, func(t *testing.T) {
			m := NewSessions(newStore(t))
			a1 := saveAs(t, m, "alice", "sid-1")
			a2 := saveAs(t, m, "alice", "sid-2")
			b1 := saveAs(t, m, "bob", "sid-1") // same provider session id, another user (another provider)
			c := saveAs(t, m, "carol", "")

			n, err := m.EndSID(t.Context(), "sid-unknown")
			require.NoError(t, err)
			require.Zero(t, n)
			n, err = m.EndSID(t.Context(), "")
			require.NoError(t, err)
			require.Zero(t, n, "a session without sid is in no sid index")

			n, err = m.EndSID(t.Context(), "sid-1")
			require.NoError(t, err)
			require.Equal(t, 2, n)
			require.Equal(t, []bool{false, true, false, true}, alive(t, m, a1, a2, b1, c))

			n, err = m.EndSID(t.Context(), "sid-1")
			require.NoError(t, err)
			require.Zero(t, n, "ended once")
			idx, err := m.store.Index(t.Context(), indexKey(sidIndex, "sid-1"))
			require.NoError(t, err)
			require.Empty(t, idx, "ended sessions leave the index")
		})
	}
}

// TestEndOne: ending one session of a user (the admin API's "end this session") ends that one and
// leaves the user's other sessions, and other users' sessions, alone; an unknown id ends nothing.
func TestEndOne(t *testing.T) {
	for name, newStore := range indexStores(t) {
		t.Run(name, func(t *testing.T) {
			m := NewSessions(newStore(t))
			a1 := saveAs(t, m, "alice", "")
			a2 := saveAs(t, m, "alice", "")
			a3 := saveAs(t, m, "alice", "")
			b := saveAs(t, m, "bob", "")
			list, err := m.List(t.Context(), "alice")
			require.NoError(t, err)
			require.Len(t, list, 3)

			ok, err := m.EndOne(t.Context(), "alice", "no-such-id")
			require.NoError(t, err)
			require.False(t, ok)
			require.Equal(t, []bool{true, true, true, true}, alive(t, m, a1, a2, b, a3))

			target := tag(a2.storeKey())
			ok, err = m.EndOne(t.Context(), "bob", target)
			require.NoError(t, err)
			require.False(t, ok, "another user's session id ends nothing")

			ok, err = m.EndOne(t.Context(), "alice", target)
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, []bool{true, false, true, true}, alive(t, m, a1, a2, a3, b))
			list, err = m.List(t.Context(), "alice")
			require.NoError(t, err)
			require.Len(t, list, 2)
			require.NoError(t, m.store.Delete(t.Context(), a1.storeKey())) // expired, say
			list, err = m.List(t.Context(), "alice")
			require.NoError(t, err)
			require.Len(t, list, 1)
			idx, err := m.store.Index(t.Context(), indexKey(subjectIndex, "alice"))
			require.NoError(t, err)
			require.Len(t, idx, 1, "List prunes the index of sessions that are gone")
		})
	}
}
