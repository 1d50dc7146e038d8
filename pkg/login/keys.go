package login

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"golang.org/x/sync/singleflight"
)

// KeyRefetchInterval is the least time between two fetches of the provider's JWKS. A token whose kid
// is not in the cached set makes the Provider fetch the set again only if the last fetch is at least
// this old; until then such tokens are refused, so forged tokens cannot make authbridge hammer the
// provider (go-oidc's RemoteKeySet fetches for every unknown kid).
const KeyRefetchInterval = 30 * time.Second

// directRefetchInterval is KeyRefetchInterval for a token read from the provider's own token endpoint
// answer (code exchange, refresh) rather than sent by a client. Only the provider puts a kid there, and a
// kid the set lacks means it has just rotated its key: waiting KeyRefetchInterval would fail every login
// for up to 30 s after a rotation (measured by faults.TestFault10). Still bounded, so that a provider that
// names a kid its JWKS lacks is not fetched at every login.
const directRefetchInterval = time.Second

// directKey marks a context whose token came from the token endpoint (fromTokenEndpoint). go-oidc's
// KeySet interface carries nothing but the context and the token, so the mark rides in the context.
type directKey struct{}

// fromTokenEndpoint marks ctx for a token read from the provider's token endpoint answer.
func fromTokenEndpoint(ctx context.Context) context.Context {
	return context.WithValue(ctx, directKey{}, true)
}

// ErrKeysUnreachable means the JWKS could not be fetched (network, timeout, an error status): the
// provider is down, not hostile, and the token is neither accepted nor refused.
var ErrKeysUnreachable = errors.New("login: provider keys unreachable")

// KeySetOptions configures a KeySet.
type KeySetOptions struct {
	URL     string                    // the provider's jwks_uri
	Client  *http.Client              // used as given: cap its bodies with CapClient
	Algs    []jose.SignatureAlgorithm // the algorithms a token may name; keep them within SignatureAlgs
	Now     func() time.Time          // default time.Now
	Timeout time.Duration             // per fetch, also when the caller gives up sooner; default 5s
}

// NewKeySet returns a KeySet that fetches o.URL on first use. It does no I/O itself.
func NewKeySet(o KeySetOptions) *KeySet {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	return &KeySet{url: o.URL, client: o.Client, now: o.Now, timeout: o.Timeout, algs: o.Algs}
}

// KeySet holds one provider's signing keys, fetched from its JWKS on first use and again for a kid it
// does not know, at most once per KeyRefetchInterval. One KeySet serves every verifier of a Provider
// (ID tokens and logout tokens), so the refetch limit holds for the whole Provider; pkg/bearer keeps
// one per issuer. It is safe for concurrent use.
type KeySet struct {
	url     string
	client  *http.Client // body-capped
	now     func() time.Time
	timeout time.Duration
	algs    []jose.SignatureAlgorithm // accepted and advertised by the provider
	fetches singleflight.Group

	mu      sync.Mutex
	keys    []jose.JSONWebKey
	fetched time.Time // last fetch attempt, failed ones included; zero before the first
	failed  error     // the last attempt's error when the set did not arrive (ErrKeysUnreachable)
}

var _ oidc.KeySet = (*KeySet)(nil)

// VerifySignature implements oidc.KeySet: it returns the payload of a compact JWS signed by one of the
// provider's keys with the kid and alg the token names. An error wrapping ErrKeysUnreachable means the
// keys could not be fetched; any other error refuses the token.
func (k *KeySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(raw, k.algs)
	if err != nil {
		return nil, fmt.Errorf("parse jws: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("login: not exactly one signature")
	}
	h := jws.Signatures[0].Header
	keys, err := k.lookup(ctx, h.KeyID)
	if err != nil {
		return nil, err
	}
	for _, key := range keys {
		if key.Algorithm != "" && key.Algorithm != h.Algorithm {
			continue // a key published for one algorithm is not used with another
		}
		if payload, err := jws.Verify(&key); err == nil {
			return payload, nil
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("login: no provider key with the token's kid")
	}
	return nil, errors.New("login: signature does not verify")
}

// lookup returns the cached keys that may have signed a token with kid (all of them for no kid). If
// none may, it fetches the set again when the last fetch is at least KeyRefetchInterval old.
func (k *KeySet) lookup(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	if keys := k.match(kid); len(keys) > 0 {
		return keys, nil
	}
	if err := k.refresh(ctx); err != nil {
		return nil, err
	}
	return k.match(kid), nil
}

func (k *KeySet) match(kid string) []jose.JSONWebKey {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []jose.JSONWebKey
	for _, key := range k.keys {
		if kid == "" || key.KeyID == kid {
			out = append(out, key)
		}
	}
	return out
}

// refresh fetches the set unless that was done less than KeyRefetchInterval ago (directRefetchInterval
// for a token from the token endpoint). Concurrent callers
// share one fetch; the fetch outlives a caller that gives up, bounded by the timeout. While the last
// attempt's set did not arrive, refresh keeps answering that error until the next attempt is due: a kid
// missing from a set that could not be fetched is unknown for want of the set, not refused.
func (k *KeySet) refresh(ctx context.Context) error {
	interval, flight := KeyRefetchInterval, "jwks"
	if ctx.Value(directKey{}) != nil {
		// A flight of its own: joining a client-sent token's flight would share its "not due" answer.
		interval, flight = directRefetchInterval, "jwks-direct"
	}
	ch := k.fetches.DoChan(flight, func() (any, error) {
		k.mu.Lock()
		now := k.now()
		due := k.fetched.IsZero() || !now.Before(k.fetched.Add(interval))
		if due {
			k.fetched = now
		}
		failed := k.failed
		k.mu.Unlock()
		if !due {
			return nil, failed
		}
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.timeout)
		defer cancel()
		keys, err := k.fetch(fctx)
		k.mu.Lock()
		defer k.mu.Unlock()
		k.failed = nil
		if err != nil {
			if errors.Is(err, ErrKeysUnreachable) {
				k.failed = err
			}
			return nil, err
		}
		k.keys = keys
		return nil, nil
	})
	select {
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrKeysUnreachable, ctx.Err())
	case res := <-ch:
		return res.Err
	}
}

// fetch reads the JWKS. A set that arrives but is oversized, not JSON or holds no usable signing key
// is an error that refuses the token; a set that does not arrive wraps ErrKeysUnreachable.
func (k *KeySet) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(withEndpoint(ctx, endpointJWKS), http.MethodGet, k.url, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch provider keys: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, body, err := do(k.client, req)
	switch {
	case errors.Is(err, ErrTooLarge):
		return nil, fmt.Errorf("fetch provider keys: %w", err)
	case err != nil:
		return nil, fmt.Errorf("fetch provider keys: %w: %w", ErrKeysUnreachable, err)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("fetch provider keys: %w: status %d", ErrKeysUnreachable, resp.StatusCode)
	}
	keys, err := parseKeys(body)
	if err != nil {
		return nil, fmt.Errorf("fetch provider keys: %w", err)
	}
	return keys, nil
}

// parseKeys reads a JWKS and keeps the public signing keys go-jose understands; other keys are
// skipped (RFC 7517 5: ignore what is not understood). A set with no usable key is an error, so a
// broken answer never replaces keys that work.
func parseKeys(body []byte) ([]jose.JSONWebKey, error) {
	if err := uniqueMembers(body); err != nil {
		return nil, fmt.Errorf("key set: %w", err)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, errors.New("key set: keys is not a list")
	}
	var keys []jose.JSONWebKey
	for _, raw := range set.Keys {
		var key jose.JSONWebKey
		if json.Unmarshal(raw, &key) != nil || !key.Valid() || !key.IsPublic() || (key.Use != "" && key.Use != "sig") {
			continue
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, errors.New("key set: no public signing key")
	}
	return keys, nil
}
