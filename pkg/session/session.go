// Package session keeps logged-in browser sessions: the ticket in the cookie, the sealed record in a Store.
package session

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned by Store.Get when the key is absent or expired.
var ErrNotFound = errors.New("session: not found")

// Store keeps opaque, already-sealed records by key. Implementations expire entries themselves: every
// write carries a TTL. Keys are chosen by the caller (Sessions adds its own prefixes); an implementation
// may add a global prefix of its own.
//
// The Store sees only ciphertext and hashed keys, so encryption lives once, in Sessions, not in every
// implementation, and the conformance suite in sessiontest can prove that no plaintext reaches it.
type Store interface {
	// Get returns the record under key, or ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// Put writes the record under key with the given TTL (which must be positive), replacing any.
	Put(ctx context.Context, key string, val []byte, ttl time.Duration) error
	// Delete removes the record under key; deleting an absent key is not an error.
	Delete(ctx context.Context, key string) error
	// Ping reports whether the store is reachable.
	Ping(ctx context.Context) error

	// CompareAndSwap replaces the record under key with val (for ttl) only if the record currently holds
	// exactly old, atomically. It reports false, writing nothing, when the record differs or is gone, so a
	// write based on a stale read (a refresh finishing after sign-out) never resurrects or clobbers a record.
	CompareAndSwap(ctx context.Context, key string, old, val []byte, ttl time.Duration) (bool, error)

	// Acquire takes the lease under key for owner for ttl if nobody holds it (SET NX PX); it reports
	// whether owner now holds it. Leases share the key space with records; callers prefix their keys.
	Acquire(ctx context.Context, key, owner string, ttl time.Duration) (bool, error)
	// Renew extends owner's lease under key to ttl from now; false if owner no longer holds it.
	Renew(ctx context.Context, key, owner string, ttl time.Duration) (bool, error)
	// Release ends owner's lease under key; releasing a lease owner does not hold does nothing.
	Release(ctx context.Context, key, owner string) error

	// IndexAdd records member with value in the index under key until ttl from now (adding a member
	// again sets both anew), drops the members whose time has run out, and keeps the index only as long
	// as its longest-lived member. Callers give a member the TTL of the record it names, so an index
	// cannot outgrow the live records and still lists every one of them.
	IndexAdd(ctx context.Context, key, member, value string, ttl time.Duration) error
	// Index returns every member of the index under key whose time has not run out, with its value; an
	// absent index is empty, not an error.
	Index(ctx context.Context, key string) (map[string]string, error)
	// IndexRemove removes members from the index under key; absent members are ignored.
	IndexRemove(ctx context.Context, key string, members ...string) error
}

// Session is what authbridge knows about one logged-in browser. It never leaves the server unsealed.
type Session struct {
	Subject string   // the ID token's sub
	Email   string   // the ID token's email, may be empty
	Groups  []string // the configured groups claim, may be empty
	// Claims holds the ID token's claims that policy rules name (see login.Claims.Values): nil when no rule
	// named any at login, so that a rule can tell a record older than itself from a claim the token lacked.
	Claims       map[string][]string
	SID          string    // the ID token's sid (for back-channel logout), may be empty
	AccessToken  string    // sent upstream as the bearer token
	RefreshToken string    // may be empty when the provider issued none
	IDToken      string    // raw ID token, kept for id_token_hint at logout
	Expiry       time.Time // when AccessToken expires; zero if unknown
	CreatedAt    time.Time // login time; bounds the absolute lifetime
	Touched      time.Time // last time the record was written; the store TTL runs from here

	sealed []byte // the record as Load read it: the version a later Update compares against
	bearer string // "Bearer " + AccessToken as decoded, shared with the decoded record
}

// Bearer returns the upstream Authorization header value, "Bearer " + AccessToken, without building it
// again when the session was just decoded.
func (s *Session) Bearer() string {
	if len(s.bearer) == len(bearerPrefix)+len(s.AccessToken) && s.bearer[len(bearerPrefix):] == s.AccessToken {
		return s.bearer
	}
	return bearerPrefix + s.AccessToken
}
