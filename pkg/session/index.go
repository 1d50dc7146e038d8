package session

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"
)

// Index and lease key prefixes in the Store.
const (
	subjectIndex = "x:sub:"
	sidIndex     = "x:sid:"
	leasePrefix  = "l:"
	oncePrefix   = "o:"
)

// indexKey names the index of one subject or sid; the value is hashed so the store does not list users.
func indexKey(prefix, v string) string {
	sum := sha256.Sum256([]byte(v))
	return prefix + base64.RawURLEncoding.EncodeToString(sum[:])
}

// Info describes one live session of a user without opening it (the store cannot: it has no keys).
type Info struct {
	ID      string    // a short one-way tag of the session's store key, stable for the session's life
	Created time.Time // login time
}

// List returns the live sessions of subject, oldest first. Index entries whose session has already
// expired are pruned on the way.
func (m *Sessions) List(ctx context.Context, subject string) ([]Info, error) {
	idx := indexKey(subjectIndex, subject)
	members, err := m.store.Index(ctx, idx)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	out := make([]Info, 0, len(members))
	var gone []string
	for key, created := range members {
		if _, err := m.store.Get(ctx, key); errors.Is(err, ErrNotFound) {
			gone = append(gone, key)
			continue
		} else if err != nil {
			return nil, fmt.Errorf("list sessions: %w", err)
		}
		sec, _ := strconv.ParseInt(created, 10, 64)
		out = append(out, Info{ID: tag(key), Created: time.Unix(sec, 0)})
	}
	if len(gone) > 0 {
		_ = m.store.IndexRemove(ctx, idx, gone...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

// EndSubject deletes every session of subject (sign out everywhere) and returns how many it ended.
func (m *Sessions) EndSubject(ctx context.Context, subject string) (int, error) {
	return m.endIndex(ctx, indexKey(subjectIndex, subject), "")
}

// EndSID deletes the sessions that came from the provider session sid (OIDC back-channel logout).
func (m *Sessions) EndSID(ctx context.Context, sid string) (int, error) {
	return m.endIndex(ctx, indexKey(sidIndex, sid), "")
}

// EndOne deletes the session of subject whose Info.ID is id; it reports whether there was one.
func (m *Sessions) EndOne(ctx context.Context, subject, id string) (bool, error) {
	n, err := m.endIndex(ctx, indexKey(subjectIndex, subject), id)
	return n > 0, err
}

// endIndex deletes the sessions listed in an index (only the one tagged only, when set).
func (m *Sessions) endIndex(ctx context.Context, idx, only string) (int, error) {
	members, err := m.store.Index(ctx, idx)
	if err != nil {
		return 0, fmt.Errorf("end sessions: %w", err)
	}
	n := 0
	var done []string
	for key := range members {
		if only != "" && tag(key) != only {
			continue
		}
		if _, err := m.store.Get(ctx, key); err == nil {
			n++
		}
		if err := m.store.Delete(ctx, key); err != nil {
			return n, fmt.Errorf("end sessions: %w", err)
		}
		if err := m.changed(ctx, key); err != nil {
			return n, fmt.Errorf("end sessions: %w", err)
		}
		done = append(done, key)
	}
	if len(done) > 0 {
		if err := m.store.IndexRemove(ctx, idx, done...); err != nil {
			return n, fmt.Errorf("end sessions: %w", err)
		}
	}
	return n, nil
}

func tag(storeKey string) string {
	sum := sha256.Sum256([]byte(storeKey))
	return base64.RawURLEncoding.EncodeToString(sum[:9])
}

// Lease is a short exclusive hold on one session (its refresh), shared by every replica through the store.
type Lease struct {
	store Store
	key   string
	owner string
}

// Lease returns the refresh lease of the ticket's session for owner (a random value per attempt).
func (m *Sessions) Lease(t Ticket, owner string) *Lease {
	return &Lease{store: m.store, key: leasePrefix + t.storeKey(), owner: owner}
}

// Acquire takes the lease for ttl if nobody holds it.
func (l *Lease) Acquire(ctx context.Context, ttl time.Duration) (bool, error) {
	return l.store.Acquire(ctx, l.key, l.owner, ttl)
}

// Renew extends the lease; false when it was lost (expired and taken by another).
func (l *Lease) Renew(ctx context.Context, ttl time.Duration) (bool, error) {
	return l.store.Renew(ctx, l.key, l.owner, ttl)
}

// Release gives the lease up.
func (l *Lease) Release(ctx context.Context) error { return l.store.Release(ctx, l.key, l.owner) }

// Once records that the one-time value id of kind (a logout token's jti, a login's state) was seen, for ttl. It reports
// true the first time and false for a replay.
func (m *Sessions) Once(ctx context.Context, kind, id string, ttl time.Duration) (bool, error) {
	return m.store.Acquire(ctx, indexKey(oncePrefix+kind+":", id), "1", ttl)
}

// ForgetOnce undoes Once for id of kind, so that its next Once reports true again: for work that was
// marked done but then failed, and that its sender will retry.
func (m *Sessions) ForgetOnce(ctx context.Context, kind, id string) error {
	return m.store.Release(ctx, indexKey(oncePrefix+kind+":", id), "1")
}
