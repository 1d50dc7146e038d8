package authz

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Bounds of the pending-login cookies. A browser holds one cookie per login in progress, so that logins
// started in several tabs all finish; these bounds keep every cookie under the browsers' 4 KB limit and the
// Cookie header small (nginx refuses a header line over 8 KB by default).
const (
	// MaxReturnURL is the longest return URL (the rd parameter, or the address a login was started from)
	// a login accepts; a longer one is refused with 414 before anything is set or stored.
	MaxReturnURL = 2 << 10
	// maxCleanReturn bounds the return URL once made absolute and re-encoded, so that a sealed login
	// (about 230 bytes besides it, then base64) stays under 4 KB.
	maxCleanReturn = MaxReturnURL + 512
	// maxPendingLogins is how many logins one browser may have in progress; starting another drops the
	// oldest.
	maxPendingLogins = 4
	// maxPendingBytes bounds the values of a browser's pending-login cookies together; the newest login
	// is always kept, older ones are dropped until the rest fit.
	maxPendingBytes = 4 << 10
	// maxPendingValue refuses, before any decoding, a cookie value no sealed login can have.
	maxPendingValue = 4 << 10
)

// pendingVersion starts every sealed login, so that a later format can tell old cookies apart.
const pendingVersion = 1

// errPending is any reason a pending-login cookie does not open. The detail is never shown to anyone:
// the cookie is attacker-controlled input, and to the engine it is simply "no pending login".
var errPending = errors.New("authz: pending login does not open")

// pendingLogin is a login in progress: what the callback needs to finish it. It lives only in the
// browser's pre-auth cookie, sealed with the server's login key, so starting a login writes nothing to
// the store.
type pendingLogin struct {
	State    string    // the OAuth state; the callback's must match
	Nonce    string    // expected in the ID token
	Verifier string    // PKCE code verifier
	ReturnTo string    // where the browser goes after login; already validated
	Created  time.Time // when the login started; the callback refuses it after Lifetimes.Login
}

// sealer seals pending logins with AES-256-GCM. The first key seals; every key opens, so a key can be
// rotated without breaking the logins in progress.
type sealer struct{ aeads []cipher.AEAD }

// loginKeyInfo separates the key that seals pending logins from any other use of the same secret.
const loginKeyInfo = "authbridge pending login v1"

// newSealer derives one AES-256 key from each secret (HMAC-SHA256 with a fixed label, so any string of
// enough entropy will do). No secrets means a random key, good for this process only.
func newSealer(secrets [][]byte) (*sealer, error) {
	if len(secrets) == 0 {
		k := make([]byte, 32)
		if _, err := rand.Read(k); err != nil {
			return nil, fmt.Errorf("read random: %w", err)
		}
		secrets = [][]byte{k}
	}
	s := &sealer{}
	for _, secret := range secrets {
		if len(secret) < 32 {
			return nil, errors.New("authz: a login key needs at least 32 bytes")
		}
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(loginKeyInfo))
		block, err := aes.NewCipher(m.Sum(nil))
		if err != nil {
			return nil, fmt.Errorf("login key: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("login key: %w", err)
		}
		s.aeads = append(s.aeads, aead)
	}
	return s, nil
}

// seal returns p as a cookie value for the cookie named name. The name is the additional data, so a
// value copied into another login's cookie does not open.
func (s *sealer) seal(name string, p *pendingLogin) (string, error) {
	aead := s.aeads[0]
	plain := make([]byte, 0, 1+4*2+len(p.State)+len(p.Nonce)+len(p.Verifier)+len(p.ReturnTo)+8)
	plain = append(plain, pendingVersion)
	for _, f := range [...]string{p.State, p.Nonce, p.Verifier, p.ReturnTo} {
		plain = binary.AppendUvarint(plain, uint64(len(f)))
		plain = append(plain, f...)
	}
	plain = binary.BigEndian.AppendUint64(plain, uint64(p.Created.Unix()))
	out := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	out = aead.Seal(out, out, plain, []byte(name))
	return base64.RawURLEncoding.EncodeToString(out), nil
}

// open returns the pending login sealed in value for the cookie named name, or errPending. It is strict:
// any length, encoding, key, version or trailing byte that is not exactly what seal writes refuses it.
func (s *sealer) open(name, value string) (*pendingLogin, error) {
	if len(value) > maxPendingValue {
		return nil, errPending
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(value)
	if err != nil {
		return nil, errPending
	}
	var plain []byte
	for _, aead := range s.aeads {
		if len(b) < aead.NonceSize()+aead.Overhead() {
			return nil, errPending
		}
		if plain, err = aead.Open(nil, b[:aead.NonceSize()], b[aead.NonceSize():], []byte(name)); err == nil {
			break
		}
	}
	if err != nil || len(plain) == 0 || plain[0] != pendingVersion {
		return nil, errPending
	}
	plain = plain[1:]
	p := &pendingLogin{}
	for _, f := range [...]*string{&p.State, &p.Nonce, &p.Verifier, &p.ReturnTo} {
		n, k := binary.Uvarint(plain)
		if k <= 0 || n > maxCleanReturn || n > uint64(len(plain)-k) {
			return nil, errPending
		}
		*f, plain = string(plain[k:k+int(n)]), plain[k+int(n):]
	}
	if len(plain) != 8 {
		return nil, errPending
	}
	p.Created = time.Unix(int64(binary.BigEndian.Uint64(plain)), 0)
	return p, nil
}

// pendingName is the name of the cookie that carries the login with this state: the session cookie's
// name, "-login-", and a short tag of the state, so the callback finds its own login among several.
func (e *Engine) pendingName(state string) string {
	sum := sha256.Sum256([]byte(state))
	return e.loginPrefix + base64.RawURLEncoding.EncodeToString(sum[:6])
}

// cookiesNamed returns the values of every cookie in a Cookie header whose name passes match, in order,
// with their names.
func cookiesNamed(header string, match func(name string) bool) (names, values []string) {
	s := cookieScanner{rest: header}
	for {
		name, v, spaced, ok := s.next()
		if !ok {
			return names, values
		}
		if name != "" && !spaced && match(name) {
			names, values = append(names, name), append(values, v)
		}
	}
}

// takePending opens the pending login that the callback for state belongs to. Exactly one cookie of its
// name must be present (two are ambiguous: refused), it must open with a login key, and it must be for
// this very state.
func (e *Engine) takePending(cookie, state string) (*pendingLogin, error) {
	name := e.pendingName(state)
	// The same reading as the session cookie's: exactly one, a name folded after "," or spelt with a
	// space before "=" counted too (see findCookie).
	value := cookieValue(cookie, name)
	if value == "" {
		return nil, errPending
	}
	p, err := e.sealer.open(name, value)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(p.State), []byte(state)) != 1 {
		return nil, errPending
	}
	return p, nil
}

// dropOldLogins returns the cookies that delete the browser's pending logins that must make room for a
// new one of newSize bytes: those that no longer open or have expired, then the oldest, until at most
// maxPendingLogins remain (counting the new one) and their values fit in maxPendingBytes.
func (e *Engine) dropOldLogins(cookie string, newSize int, now time.Time) []string {
	names, values := cookiesNamed(cookie, func(n string) bool { return strings.HasPrefix(n, e.loginPrefix) })
	type live struct {
		name    string
		size    int
		created time.Time
	}
	var keep []live
	var drop []string
	for i, name := range names {
		p, err := e.sealer.open(name, values[i])
		if err != nil || e.loginExpired(p, now) || slices.ContainsFunc(keep, func(l live) bool { return l.name == name }) {
			drop = append(drop, name)
			continue
		}
		keep = append(keep, live{name, len(values[i]), p.Created})
	}
	slices.SortStableFunc(keep, func(a, b live) int { return b.created.Compare(a.created) }) // newest first
	total, n := newSize, 1
	for _, l := range keep {
		if n < maxPendingLogins && total+l.size <= maxPendingBytes {
			total, n = total+l.size, n+1
			continue
		}
		drop = append(drop, l.name)
	}
	return drop
}

// loginExpired reports whether a pending login is past Lifetimes.Login (or claims to start in the
// future, which only a clock step can explain: refused all the same).
func (e *Engine) loginExpired(p *pendingLogin, now time.Time) bool {
	age := now.Sub(p.Created)
	return age < -time.Minute || age >= e.o.Lifetimes.Login
}
