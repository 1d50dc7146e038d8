package sessiontest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/pkg/session"
)

func testIndex(t *testing.T, _ Harness, s session.Store) {
	ctx := t.Context()
	const odd = "m\x00\xff ü"
	index := func(key string) map[string]string {
		t.Helper()
		m, err := s.Index(ctx, key)
		require.NoError(t, err)
		require.NotNil(t, m, "an index is never nil")
		return m
	}
	require.Empty(t, index("ix"), "an absent index is empty, not an error")

	require.NoError(t, s.IndexAdd(ctx, "ix", "a", "1", longTTL))
	require.NoError(t, s.IndexAdd(ctx, "ix", "b", "2", longTTL))
	require.NoError(t, s.IndexAdd(ctx, "ix", "a", "3", longTTL))
	require.NoError(t, s.IndexAdd(ctx, "ix", odd, "", longTTL))
	require.NoError(t, s.IndexAdd(ctx, "other", "a", "x", longTTL))
	want := map[string]string{"a": "3", "b": "2", odd: ""}
	got := index("ix")
	require.Equal(t, want, got)
	got["a"] = "scribbled" // the caller writes to what Index returned
	delete(got, "b")
	require.Equal(t, want, index("ix"), "the returned map is the caller's own")
	require.Equal(t, map[string]string{"a": "x"}, index("other"), "indexes are per key")

	require.NoError(t, s.IndexRemove(ctx, "ix", "a", "absent"))
	require.Equal(t, map[string]string{"b": "2", odd: ""}, index("ix"))
	require.NoError(t, s.IndexRemove(ctx, "ix"), "removing no members")
	require.NoError(t, s.IndexRemove(ctx, "absent", "a"), "removing from an absent index")
	require.NoError(t, s.IndexRemove(ctx, "ix", "b", odd))
	require.Empty(t, index("ix"), "an emptied index reads as empty")
	require.NoError(t, s.IndexAdd(ctx, "ix", "c", "4", longTTL))
	require.Equal(t, map[string]string{"c": "4"}, index("ix"), "an emptied index can be added to again")
}

// testIndexTTL: each member lives for the TTL of its latest add, like the record it names; the index
// drops the members whose time has run out and lives no longer than its longest-lived member.
func testIndexTTL(t *testing.T, h Harness, s session.Store) {
	ctx := t.Context()
	steps := []struct {
		key, member string
		long        bool
	}{
		{"mixed", "a", true}, {"mixed", "b", false}, // each member keeps its own end
		{"shorten", "a", true}, {"shorten", "a", false}, // the latest add sets the end, even an earlier one
		{"lengthen", "a", false}, {"lengthen", "a", true},
		{"expire", "a", false}, {"expire", "b", false},
	}
	for _, st := range steps {
		ttl := shortTTL(h)
		if st.long {
			ttl = longTTL
		}
		require.NoError(t, s.IndexAdd(ctx, st.key, st.member, "v", ttl))
	}
	index := func(key string) map[string]string {
		t.Helper()
		ix, err := s.Index(ctx, key)
		require.NoError(t, err)
		return ix
	}
	both := map[string]string{"a": "v", "b": "v"}
	require.Equal(t, both, index("mixed"), "present before the short ttl")
	require.Equal(t, both, index("expire"))
	require.NoError(t, s.Put(ctx, "marker", []byte("m"), shortTTL(h)))

	waitPast(t, h, s, "marker") // put after the indexes, so every short ttl has run out
	want := map[string]map[string]string{
		"mixed":    {"a": "v"},
		"shorten":  {},
		"lengthen": {"a": "v"},
		"expire":   {},
	}
	for k, w := range want {
		require.Equal(t, w, index(k), "index %q", k)
	}
	require.NoError(t, s.IndexAdd(ctx, "expire", "c", "v", longTTL))
	require.Equal(t, map[string]string{"c": "v"}, index("expire"), "an expired index starts afresh")
	require.NoError(t, s.IndexAdd(ctx, "mixed", "b", "w", longTTL))
	require.Equal(t, map[string]string{"a": "v", "b": "w"}, index("mixed"), "an ended member can be added again")
}
