package session

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
)

// ErrInvalidTicket is returned by ParseTicket for a cookie value that is not a ticket.
var ErrInvalidTicket = errors.New("session: invalid ticket")

const (
	idLen  = 32
	keyLen = 32
	// ticketLen is the length of a ticket's cookie value: base64url, unpadded, of id||key (rounded up:
	// 64 bytes encode to 86 characters).
	ticketLen = ((idLen+keyLen)*8 + 5) / 6
)

// Ticket is what the session cookie carries: a random 256-bit session id and a random 256-bit key that
// seals the session in the store. The store only ever sees a keyed hash of the id and ciphertext, so a
// dump of the store can neither open sessions nor be turned back into cookies.
type Ticket struct {
	id  [idLen]byte
	key [keyLen]byte
}

// NewTicket returns a fresh ticket from crypto/rand. A new ticket is issued at every login.
func NewTicket() (Ticket, error) {
	var t Ticket
	if _, err := rand.Read(t.id[:]); err != nil {
		return t, err
	}
	if _, err := rand.Read(t.key[:]); err != nil {
		return t, err
	}
	return t, nil
}

// ParseTicket reads a cookie value written by Ticket.String.
func ParseTicket(v string) (Ticket, error) {
	var t Ticket
	if len(v) != ticketLen {
		return t, ErrInvalidTicket
	}
	var buf [idLen + keyLen]byte
	// Strict rejects non-zero padding bits, so each ticket has exactly one cookie value.
	n, err := base64.RawURLEncoding.Strict().Decode(buf[:], []byte(v))
	if err != nil || n != len(buf) {
		return t, ErrInvalidTicket
	}
	copy(t.id[:], buf[:idLen])
	copy(t.key[:], buf[idLen:])
	return t, nil
}

// String returns the cookie value. It is a credential: never log it.
func (t Ticket) String() string {
	var buf [idLen + keyLen]byte
	copy(buf[:], t.id[:])
	copy(buf[idLen:], t.key[:])
	return base64.RawURLEncoding.EncodeToString(buf[:])
}

// storeKey is the key the sealed session lives under: HMAC-SHA256 of the id under the ticket's key,
// so the store key reveals nothing and cannot be computed without the cookie.
func (t Ticket) storeKey() string { return keyString(t.storeHash()) }

// storeHash is HMAC-SHA256(key, id), written out over fixed-size arrays (RFC 2104) because crypto/hmac
// allocates and this runs on every request.
func (t Ticket) storeHash() [sha256.Size]byte {
	const block = 64 // SHA-256 block size; the 32-byte key is zero-padded to it
	var in [block + idLen]byte
	var out [block + sha256.Size]byte
	for i := range block {
		k := byte(0)
		if i < keyLen {
			k = t.key[i]
		}
		in[i], out[i] = k^0x36, k^0x5c
	}
	copy(in[block:], t.id[:])
	inner := sha256.Sum256(in[:])
	copy(out[block:], inner[:])
	return sha256.Sum256(out[:])
}

// keyString is the store key of a session hash.
func keyString(h [sha256.Size]byte) string {
	var buf [len(sessionPrefix) + 43]byte
	copy(buf[:], sessionPrefix)
	base64.RawURLEncoding.Encode(buf[len(sessionPrefix):], h[:])
	return string(buf[:])
}

// keyHash reverses keyString; ok is false for a key that is not a session key.
func keyHash(key string) (h [sha256.Size]byte, ok bool) {
	rest, found := strings.CutPrefix(key, sessionPrefix)
	if !found || len(rest) != 43 {
		return h, false
	}
	n, err := base64.RawURLEncoding.Decode(h[:], []byte(rest))
	return h, err == nil && n == len(h)
}

// LogID is a short, one-way tag of the session id for logs: it lets lines about one session be
// correlated without putting anything usable in the log.
func (t Ticket) LogID() string {
	sum := sha256.Sum256(t.id[:])
	return hex.EncodeToString(sum[:6])
}
