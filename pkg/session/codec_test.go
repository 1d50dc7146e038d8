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
		{"claims", &Session{Subject: "s", Groups: []string{"g"}, Claims: map[string][]string{
			"https://example.com/roles": {"editor", "owner"}, "tier": {"gold"}, "absent": nil, "": {""}}}},
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
	validClaims := marshal(&Session{Subject: "s", Claims: map[string][]string{"role": {"x"}}})
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
		{"empty claims section", append(append([]byte{}, valid...), 0)},
		{"claims count without claims", append(append([]byte{}, valid...), 2, 1, 'a', 0)},
		{"too many claims", append(append([]byte{}, valid...), 0x81, 0x02)}, // 257
		{"too many claim values", append(append([]byte{}, valid...), 1, 1, 'a', 0x81, 0x40)},
		{"claim values without values", append(append([]byte{}, valid...), 1, 1, 'a', 3, 1, 'x')},
		{"duplicate claim", append(append([]byte{}, valid...), 2, 1, 'a', 0, 1, 'a', 0)},
		{"byte after claims", append(append([]byte{}, validClaims...), 0)},
	}
	for n := 1; n < len(valid); n++ {
		tests = append(tests, struct {
			name string
			b    []byte
		}{"truncated", valid[:n]})
	}
	for n := len(valid); n < len(validClaims); n++ {
		tests = append(tests, struct {
			name string
			b    []byte
		}{"truncated claims", validClaims[:n]})
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
	f.Add(marshal(&Session{Subject: "s", Claims: map[string][]string{"role": {"a", "b"}, "x": nil}}))
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

// TestCodecClaimsCompatible: a session without claims encodes exactly as before claims existed (so a
// replica of the previous release reads it during a rolling update), a record of the previous release
// decodes with no claims (nil: "not recorded"), and the same claims always give the same bytes.
func TestCodecClaimsCompatible(t *testing.T) {
	// A record as the release before claims wrote it, byte for byte: version, subject "s", email "e",
	// sid "", "Bearer at", refresh token "", id token "", three times, and the groups "a" and "b".
	old := []byte{codecVersion, 1, 's', 1, 'e', 0, 9, 'B', 'e', 'a', 'r', 'e', 'r', ' ', 'a', 't', 0, 0, 0, 0, 0, 2, 1, 'a', 1, 'b'}
	s, err := unmarshal(old)
	require.NoError(t, err)
	require.Equal(t, "s", s.Subject)
	require.Equal(t, []string{"a", "b"}, s.Groups)
	require.Nil(t, s.Claims)
	require.Equal(t, old, marshal(&Session{Subject: "s", Email: "e", AccessToken: "at", Groups: []string{"a", "b"}}))
	require.Equal(t, old, marshal(&Session{Subject: "s", Email: "e", AccessToken: "at", Groups: []string{"a", "b"}, Claims: map[string][]string{}}),
		"no claims, no section")

	claims := map[string][]string{"b": {"2"}, "a": {"1"}, "c": nil, "d": {"x", "y"}}
	first := marshal(&Session{Subject: "s", Claims: claims})
	for range 20 {
		require.Equal(t, first, marshal(&Session{Subject: "s", Claims: claims}))
	}
}

// TestNewTicketIsRandom: every ticket's id and key come from crypto/rand — never zero, never repeated —
// since a predictable key would let whoever reads the store open the sessions.
func TestNewTicketIsRandom(t *testing.T) {
	var zero Ticket
	seenID := map[[idLen]byte]bool{}
	seenKey := map[[keyLen]byte]bool{}
	for range 64 {
		tk, err := NewTicket()
		require.NoError(t, err)
		require.NotEqual(t, zero.id, tk.id)
		require.NotEqual(t, zero.key, tk.key)
		require.NotEqual(t, tk.id[:], tk.key[:], "id and key are drawn apart")
		require.False(t, seenID[tk.id], "id repeated")
		require.False(t, seenKey[tk.key], "key repeated")
		seenID[tk.id], seenKey[tk.key] = true, true
	}
}

// FuzzParseTicket checks the session cookie's ticket parser: a value it accepts is the one and only
// spelling of its ticket (String gives it back byte for byte), and a ticket's own value always parses.
func FuzzParseTicket(f *testing.F) {
	tk, err := NewTicket()
	require.NoError(f, err)
	for _, s := range []string{tk.String(), "", "x", strings.Repeat("A", ticketLen), strings.Repeat("A", ticketLen-1) + "B",
		strings.Repeat("_", ticketLen), strings.Repeat("+", ticketLen), tk.String() + "=", " " + tk.String()[1:], tk.String()[:ticketLen-1] + "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		parsed, err := ParseTicket(v)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidTicket)
			return
		}
		require.Equal(t, v, parsed.String(), "one spelling per ticket")
		again, err := ParseTicket(parsed.String())
		require.NoError(t, err)
		require.Equal(t, parsed, again)
	})
}

// FuzzOpenSealed checks what the store hands back: a record sealed under one ticket never opens under
// another ticket or another store key, nor after any byte of it changed; and arbitrary bytes in the store
// never open at all.
func FuzzOpenSealed(f *testing.F) {
	f.Add([]byte("garbage"), uint16(0))
	f.Add(marshal(testSession()), uint16(7))
	f.Fuzz(func(t *testing.T, stored []byte, flip uint16) {
		a, b := newTicket(t), newTicket(t)
		if _, err := open(a.key[:], a.storeKey(), stored, nil); err == nil {
			t.Fatal("arbitrary bytes opened")
		}
		sealed, err := seal(a.key[:], a.storeKey(), stored)
		require.NoError(t, err)
		plain, err := open(a.key[:], a.storeKey(), sealed, nil)
		require.NoError(t, err)
		require.Equal(t, string(stored), string(plain))
		_, err = open(b.key[:], b.storeKey(), sealed, nil)
		require.Error(t, err, "opened with another ticket")
		_, err = open(a.key[:], b.storeKey(), sealed, nil)
		require.Error(t, err, "opened under another store key")
		sealed[int(flip)%len(sealed)] ^= 0x20
		_, err = open(a.key[:], a.storeKey(), sealed, nil)
		require.Error(t, err, "opened after a byte changed")
	})
}
