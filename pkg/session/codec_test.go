package session

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTicketRoundTrip(t *testing.T) {
	a, err := NewTicket()
	require.NoError(t, err)
	b, err := NewTicket()
	require.NoError(t, err)
	require.NotEqual(t, a, b, "tickets are random")
	require.Len(t, a.String(), ticketLen)

	got, err := ParseTicket(a.String())
	require.NoError(t, err)
	require.Equal(t, a, got)
	require.Equal(t, a.storeKey(), got.storeKey())
	require.Equal(t, a.LogID(), got.LogID())
}

func TestParseTicketRejects(t *testing.T) {
	tk, err := NewTicket()
	require.NoError(t, err)
	valid := tk.String()
	// The last character carries 4 padding bits; flipping one gives a second spelling of the same bytes.
	last := strings.IndexByte(b64url, valid[len(valid)-1])
	nonCanonical := valid[:len(valid)-1] + string(b64url[last^1])
	tests := []struct {
		name string
		v    string
	}{
		{"empty", ""},
		{"one short", valid[:len(valid)-1]},
		{"one long", valid + "A"},
		{"padded", valid + "=="},
		{"std alphabet", strings.Repeat("+/", ticketLen/2)},
		{"space", " " + valid[1:]},
		{"non-canonical", nonCanonical},
		{"std base64 of 64 bytes", base64.StdEncoding.EncodeToString(make([]byte, 64))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTicket(tt.v)
			require.ErrorIs(t, err, ErrInvalidTicket)
		})
	}
}

const b64url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

func TestLogID(t *testing.T) {
	tk, err := NewTicket()
	require.NoError(t, err)
	id := tk.LogID()
	require.Regexp(t, `^[0-9a-f]{12}$`, id)
	require.Equal(t, id, tk.LogID(), "stable")
	require.NotContains(t, tk.String(), id)
	other := tk
	other.key[0] ^= 1
	require.Equal(t, id, other.LogID(), "depends on the id only")
}

func TestCodecRoundTrip(t *testing.T) {
	many := make([]string, 1000)
	for i := range many {
		many[i] = strings.Repeat("g", i%7)
	}
	tests := []struct {
		name string
		s    *Session
	}{
		{"empty", &Session{}},
		{"full", &Session{
			Subject: "auth0|123", Email: "a@example.com", Groups: []string{"admin", "dev"}, SID: "sid-1",
			AccessToken: "at", RefreshToken: "rt", IDToken: "it",
			Expiry: time.Unix(1_700_000_000, 123), CreatedAt: time.Unix(1_699_999_000, 0),
		}},
		{"empty fields between full", &Session{Subject: "s", AccessToken: "at", Groups: []string{"", "x", ""}}},
		{"many groups", &Session{Subject: "s", Groups: many}},
		{"max groups", &Session{Groups: make([]string, maxGroups)}},
		{"unicode", &Session{Subject: "ü€😀", Email: "名前@例え.jp", Groups: []string{"grüppe", "\x00\xff"}}},
		{"long token", &Session{AccessToken: strings.Repeat("x", 1<<16)}},
		{"before 1970", &Session{Expiry: time.Unix(-1_000_000, 5)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := unmarshal(marshal(tt.s))
			require.NoError(t, err)
			requireSameSession(t, tt.s, got)
		})
	}
}

// requireSameSession compares sessions as the codec keeps them: times by instant, and no groups
// equal to an empty list of groups.
func requireSameSession(t *testing.T, want, got *Session) {
	t.Helper()
	require.True(t, want.Expiry.Equal(got.Expiry), "expiry %v != %v", want.Expiry, got.Expiry)
	require.True(t, want.CreatedAt.Equal(got.CreatedAt), "created %v != %v", want.CreatedAt, got.CreatedAt)
	require.True(t, want.Touched.Equal(got.Touched), "touched %v != %v", want.Touched, got.Touched)
	require.Equal(t, "Bearer "+want.AccessToken, got.Bearer())
	w, g := *want, *got
	w.Expiry, w.CreatedAt, g.Expiry, g.CreatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	w.Touched, g.Touched = time.Time{}, time.Time{}
	w.sealed, g.sealed, w.bearer, g.bearer = nil, nil, "", "" // bookkeeping, not content
	if len(w.Groups) == 0 {
		w.Groups = nil
	}
	require.Equal(t, w, g)
}

func TestUnmarshalCorrupt(t *testing.T) {
	valid := marshal(&Session{Subject: "s", Email: "e", Groups: []string{"a", "b"}, AccessToken: "at",
		Expiry: time.Unix(1_700_000_000, 0)})
	tests := []struct {
		name string
		b    []byte
	}{
		{"nil", nil},
		{"version only", []byte{codecVersion}},
		{"wrong version", append([]byte{codecVersion + 1}, valid[1:]...)},
		{"trailing byte", append(append([]byte{}, valid...), 0)},
		{"huge string length", []byte{codecVersion, 0xff, 0xff, 0xff, 0xff, 0x0f}},
		{"overflowing varint", append([]byte{codecVersion}, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)},
		{"too many groups", append([]byte{codecVersion, 0, 0, 0, 0, 0, 0, 0, 0}, 0x81, 0x40)}, // 8193
		{"groups count without groups", []byte{codecVersion, 0, 0, 0, 0, 0, 0, 0, 0, 5}},
	}
	for n := 1; n < len(valid); n++ {
		tests = append(tests, struct {
			name string
			b    []byte
		}{"truncated", valid[:n]})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := unmarshal(tt.b)
			require.ErrorIs(t, err, errCorrupt)
		})
	}
}

func FuzzUnmarshal(f *testing.F) {
	f.Add(marshal(&Session{}))
	f.Add(marshal(&Session{Subject: "s", Email: "e", Groups: []string{"a", "b"}, AccessToken: "at",
		Expiry: time.Unix(1_700_000_000, 1), CreatedAt: time.Unix(1, 0)}))
	f.Add([]byte{codecVersion, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := unmarshal(b)
		if err != nil {
			return
		}
		// Whatever decodes must survive its own round trip unchanged.
		again, err := unmarshal(marshal(s))
		require.NoError(t, err)
		requireSameSession(t, s, again)
	})
}

// TestBearerFollowsAccessToken: a decoded session hands out its stored header value, and a copy whose
// access token was replaced (a refresh) never hands out the old one.
func TestBearerFollowsAccessToken(t *testing.T) {
	s, err := unmarshal(marshal(&Session{AccessToken: "old-token"}))
	require.NoError(t, err)
	require.Equal(t, "Bearer old-token", s.Bearer())
	fresh := *s
	fresh.AccessToken = "new-token"
	require.Equal(t, "Bearer new-token", fresh.Bearer())
	fresh.AccessToken = "old-tokeX"
	require.Equal(t, "Bearer old-tokeX", fresh.Bearer())
	require.Equal(t, "Bearer x", (&Session{AccessToken: "x"}).Bearer())
}
