package session

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// sessionPrefix starts the Store key of every sealed session.
const sessionPrefix = "s:"

// Sessions seals sessions with their ticket's key and keeps them in a Store. It is safe for
// concurrent use.
type Sessions struct {
	store Store
	cache *cache   // nil unless EnableCache
	met   *metrics // nil unless EnableMetrics
}

// NewSessions returns Sessions kept in store.
func NewSessions(store Store) *Sessions { return &Sessions{store: traceStore(store)} }

// Load returns the session the ticket names. A session that is absent, expired, or cannot be
// opened with the ticket's key (a forged or stale cookie) is ErrNotFound; any other error means the
// store could not answer and must not be mistaken for "logged out". With the cache on, the session may be
// shared with other requests: callers must not modify it (copy it first, as Update's callers do).
func (m *Sessions) Load(ctx context.Context, t Ticket) (*Session, error) {
	if m.cache == nil {
		return m.load(ctx, t, t.storeKey())
	}
	h := t.storeHash()
	s, res := m.cache.get(h)
	m.met.looked(res)
	if s != nil {
		return s, nil
	}
	seq := m.cache.seq.Load()
	s, err := m.load(ctx, t, keyString(h))
	if err == nil {
		m.cache.put(h, s, seq)
	}
	return s, err
}

// LoadFresh is Load from the store itself, bypassing the cache: for decisions that must see the latest
// write (a refresh deciding whether another replica already refreshed).
func (m *Sessions) LoadFresh(ctx context.Context, t Ticket) (*Session, error) {
	return m.load(ctx, t, t.storeKey())
}

func (m *Sessions) load(ctx context.Context, t Ticket, key string) (*Session, error) {
	sealed, err := m.store.Get(ctx, key)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("load session: %w", err)
	}
	buf := plainPool.Get().(*[]byte)
	defer plainPool.Put(buf)
	plain, err := open(t.key[:], key, sealed, (*buf)[:0])
	if err != nil {
		m.met.unreadableRecord()
		return nil, ErrNotFound
	}
	*buf = plain[:0]           // keep a grown buffer for next time
	s, err := unmarshal(plain) // copies what it keeps, so the buffer can be reused
	if err != nil {
		m.met.unreadableRecord()
		return nil, ErrNotFound
	}
	s.sealed = sealed
	return s, nil
}

// Save seals s with the ticket's key and stores it for ttl as a new session, indexed by its subject and
// (when it has one) its sid so that EndSubject and EndSID can find it.
func (m *Sessions) Save(ctx context.Context, t Ticket, s *Session, ttl time.Duration) error {
	key := t.storeKey()
	sealed, err := seal(t.key[:], key, marshal(s))
	if err != nil {
		return fmt.Errorf("seal session: %w", err)
	}
	if err := m.store.Put(ctx, key, sealed, ttl); err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	s.sealed = sealed
	// After the record: a List meanwhile would prune a member whose record is not there yet. Should this
	// fail, the login fails and nobody holds the cookie of the unindexed record.
	return m.index(ctx, key, s, ttl)
}

// indexSlack is how much longer than its record an index member lives. Update writes the members before
// the record, and in Redis Cluster a member's end is read off another node's clock than the record's TTL:
// without slack a member could end while its record still lives, out of reach of sign-out everywhere.
const indexSlack = 10 * time.Second

// index lists the session under key in its subject's and its sid's index for ttl, the record's own TTL,
// plus indexSlack: an index member ends shortly after its record, so the indexes hold no more than the
// live sessions (and those ended early by sign-out until their TTL), yet still list every live one.
func (m *Sessions) index(ctx context.Context, key string, s *Session, ttl time.Duration) error {
	ttl += indexSlack
	created := strconv.FormatInt(s.CreatedAt.Unix(), 10)
	if err := m.store.IndexAdd(ctx, indexKey(subjectIndex, s.Subject), key, created, ttl); err != nil {
		return fmt.Errorf("index session: %w", err)
	}
	if s.SID != "" {
		if err := m.store.IndexAdd(ctx, indexKey(sidIndex, s.SID), key, created, ttl); err != nil {
			return fmt.Errorf("index session: %w", err)
		}
	}
	return nil
}

// Update writes s over the record it was loaded from, only if that record is still exactly what Load
// read: false means the session changed meanwhile (reload and retry) or is gone (signed out: never
// resurrect it). It keeps the index entries alive for ttl.
func (m *Sessions) Update(ctx context.Context, t Ticket, s *Session, ttl time.Duration) (bool, error) {
	if s.sealed == nil {
		return false, errors.New("session: Update of a session that was not loaded")
	}
	key := t.storeKey()
	sealed, err := seal(t.key[:], key, marshal(s))
	if err != nil {
		return false, fmt.Errorf("seal session: %w", err)
	}
	// The index entries first: a record whose TTL grew while its index entries did not would drop out
	// of the indexes alive, out of reach of sign-out everywhere and back-channel logout. An entry that
	// outlives its record (the swap lost, or failed) only costs a Delete of an absent key later.
	if err := m.index(ctx, key, s, ttl); err != nil {
		return false, err
	}
	ok, err := m.store.CompareAndSwap(ctx, key, s.sealed, sealed, ttl)
	if err != nil {
		return false, fmt.Errorf("update session: %w", err)
	}
	if !ok {
		return false, nil
	}
	s.sealed = sealed
	if err := m.changed(ctx, key); err != nil {
		return true, fmt.Errorf("announce session change: %w", err)
	}
	return true, nil
}

// Delete removes the session the ticket names; a missing session is not an error.
func (m *Sessions) Delete(ctx context.Context, t Ticket) error {
	key := t.storeKey()
	if err := m.store.Delete(ctx, key); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	if err := m.changed(ctx, key); err != nil {
		return fmt.Errorf("announce session end: %w", err)
	}
	return nil
}

// seal encrypts plain with AES-256-GCM under key; the store key is the additional data, so a record
// copied to another key does not open.
func seal(key []byte, storeKey string, plain []byte) ([]byte, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		return nil, err
	}
	return aead.Seal(out, out, plain, []byte(storeKey)), nil
}

// plainPool holds decryption buffers: a decoded session copies its fields out, so the plaintext buffer
// can serve the next request.
var plainPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// open decrypts sealed (written by seal under the same key and store key), appending to dst.
func open(key []byte, storeKey string, sealed, dst []byte) ([]byte, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < aead.NonceSize() {
		return nil, errCorrupt
	}
	nonce, ct := sealed[:aead.NonceSize()], sealed[aead.NonceSize():]
	return aead.Open(dst, nonce, ct, []byte(storeKey))
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
