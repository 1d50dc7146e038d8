package session

import (
	"encoding/binary"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"
)

// errCorrupt is returned when a record cannot be decoded; callers treat it like a missing session.
var errCorrupt = errors.New("session: corrupt record")

// bearerPrefix is the scheme of the upstream Authorization header.
const bearerPrefix = "Bearer "

// codecVersion leads every encoded session so the format can change without misreading old records.
const codecVersion = 1

// maxGroups bounds the groups decoded from one record, and the values of each claim, so a corrupt length
// cannot allocate without limit.
const maxGroups = 4096

// maxClaims bounds the claims decoded from one record.
const maxClaims = 256

// marshal encodes s in a compact binary form: a version byte, then length-prefixed strings and
// varint times. It is cheaper than JSON on the hot path and has no field names to leak. The claims come
// last and only when there are some, so that a session without them encodes exactly as before they
// existed (older replicas read it), and a record without them decodes with Claims nil.
func marshal(s *Session) []byte {
	n := 1 + 7*binary.MaxVarintLen64 + len(s.Subject) + len(s.Email) + len(s.SID) +
		len(bearerPrefix) + len(s.AccessToken) + len(s.RefreshToken) + len(s.IDToken) + 3*binary.MaxVarintLen64
	for _, g := range s.Groups {
		n += binary.MaxVarintLen64 + len(g)
	}
	for name, vs := range s.Claims {
		n += 2*binary.MaxVarintLen64 + len(name)
		for _, v := range vs {
			n += binary.MaxVarintLen64 + len(v)
		}
	}
	b := make([]byte, 0, n+binary.MaxVarintLen64*8)
	b = append(b, codecVersion)
	for _, f := range [...]string{s.Subject, s.Email, s.SID} {
		b = appendString(b, f)
	}
	// The access token is stored behind "Bearer ", so that decoding can hand out the upstream header
	// value as a substring of the one decoded string instead of building it on every request.
	b = binary.AppendUvarint(b, uint64(len(bearerPrefix)+len(s.AccessToken)))
	b = append(b, bearerPrefix...)
	b = append(b, s.AccessToken...)
	for _, f := range [...]string{s.RefreshToken, s.IDToken} {
		b = appendString(b, f)
	}
	b = binary.AppendVarint(b, unixNano(s.Expiry))
	b = binary.AppendVarint(b, unixNano(s.CreatedAt))
	b = binary.AppendVarint(b, unixNano(s.Touched))
	b = binary.AppendUvarint(b, uint64(len(s.Groups)))
	for _, g := range s.Groups {
		b = appendString(b, g)
	}
	if len(s.Claims) > 0 {
		b = binary.AppendUvarint(b, uint64(len(s.Claims)))
		for _, name := range slices.Sorted(maps.Keys(s.Claims)) { // the same session, the same bytes
			b = appendString(b, name)
			b = binary.AppendUvarint(b, uint64(len(s.Claims[name])))
			for _, v := range s.Claims[name] {
				b = appendString(b, v)
			}
		}
	}
	return b
}

// unmarshal decodes a record written by marshal.
func unmarshal(b []byte) (*Session, error) {
	if len(b) == 0 || b[0] != codecVersion {
		return nil, errCorrupt
	}
	// One string holds every field: the fields are substrings of it, one allocation instead of one per field.
	d := decoder{b: b[1:], str: string(b[1:])}
	s := &Session{}
	for _, f := range [...]*string{&s.Subject, &s.Email, &s.SID, &s.bearer, &s.RefreshToken, &s.IDToken} {
		*f = d.string()
	}
	if !strings.HasPrefix(s.bearer, bearerPrefix) {
		return nil, errCorrupt
	}
	s.AccessToken = s.bearer[len(bearerPrefix):]
	s.Expiry = fromUnixNano(d.varint())
	s.CreatedAt = fromUnixNano(d.varint())
	s.Touched = fromUnixNano(d.varint())
	if n := d.uvarint(); n > 0 {
		if n > maxGroups {
			return nil, errCorrupt
		}
		s.Groups = make([]string, n)
		for i := range s.Groups {
			s.Groups[i] = d.string()
		}
	}
	if len(d.b) > 0 && !d.bad {
		s.Claims = d.claims()
	}
	if d.bad || len(d.b) != 0 {
		return nil, errCorrupt
	}
	return s, nil
}

// claims reads the claims section that marshal appends when a session has claims.
func (d *decoder) claims() map[string][]string {
	n := d.uvarint()
	if n == 0 || n > maxClaims { // marshal writes no empty section
		d.bad = true
		return nil
	}
	m := make(map[string][]string, n)
	for range n {
		name := d.string()
		k := d.uvarint()
		if _, dup := m[name]; dup || k > maxGroups || d.bad {
			d.bad = true
			return nil
		}
		var vs []string
		if k > 0 {
			vs = make([]string, k)
			for i := range vs {
				vs[i] = d.string()
			}
		}
		m[name] = vs
	}
	return m
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// decoder reads what marshal wrote; after the first error every read returns a zero value and bad stays set.
// When str is set it holds the same bytes as b did at the start, and strings are cut from it without copying.
type decoder struct {
	b   []byte
	str string
	bad bool
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad = true
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.bad = true
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.bad || n > uint64(len(d.b)) {
		d.bad = true
		d.b = nil
		return ""
	}
	var s string
	if d.str != "" {
		off := len(d.str) - len(d.b)
		s = d.str[off : off+int(n)]
	} else {
		s = string(d.b[:n])
	}
	d.b = d.b[n:]
	return s
}
