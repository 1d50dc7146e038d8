package bearer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/sync/singleflight"

	"github.com/authbridge/authbridge/pkg/login"
)

// Discovery retry delays: after a failed discovery the issuer is not asked again for minBackoff, then
// twice as long after each further failure, up to maxBackoff. Tokens naming it meanwhile get
// ErrUnavailable at once, so that no amount of traffic makes authbridge hammer a failing issuer.
const (
	minBackoff = time.Second
	maxBackoff = login.KeyRefetchInterval
)

// issuer is one configured issuer: discovered on the first token that names it, then its key set.
type issuer struct {
	url     string
	client  *http.Client // body-capped
	timeout time.Duration
	now     func() time.Time
	log     *slog.Logger
	flight  singleflight.Group

	mu      sync.Mutex
	keys    *login.KeySet // nil until discovered
	retryAt time.Time     // no discovery before this, after a failure
	backoff time.Duration // the wait after the next failure
}

// keySet returns the issuer's key set, discovering the issuer first if that has not succeeded yet.
// Concurrent callers share one discovery; it outlives a caller that gives up, bounded by the timeout.
// Its errors wrap ErrUnavailable.
func (is *issuer) keySet(ctx context.Context) (*login.KeySet, error) {
	if k, err := is.ready(); k != nil || err != nil {
		return k, err
	}
	ch := is.flight.DoChan("discover", func() (any, error) {
		if k, err := is.ready(); k != nil || err != nil {
			return k, err // another discovery finished in between
		}
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), is.timeout)
		defer cancel()
		k, err := is.discover(dctx)
		is.mu.Lock()
		defer is.mu.Unlock()
		if err != nil {
			wait := max(is.backoff, minBackoff)
			is.retryAt = is.now().Add(wait)
			is.backoff = min(2*wait, maxBackoff)
			is.log.Warn("bearer token issuer not discovered; its tokens get 503 until it is", "err", err, "retry_in", wait.String())
			return nil, fmt.Errorf("%w: discover %s: %w", ErrUnavailable, is.url, err)
		}
		is.keys, is.backoff = k, 0
		is.log.Info("bearer token issuer discovered")
		return k, nil
	})
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: discover %s: %w", ErrUnavailable, is.url, ctx.Err())
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*login.KeySet), nil
	}
}

// ready returns the key set once discovered, an error while a failed discovery is backing off, and
// neither when a discovery is due.
func (is *issuer) ready() (*login.KeySet, error) {
	is.mu.Lock()
	defer is.mu.Unlock()
	switch {
	case is.keys != nil:
		return is.keys, nil
	case is.now().Before(is.retryAt):
		return nil, fmt.Errorf("%w: %s failed discovery, next try in %s", ErrUnavailable, is.url, is.retryAt.Sub(is.now()))
	}
	return nil, nil
}

// discover reads the issuer's discovery document (go-oidc checks that it names exactly this issuer)
// and returns a key set for its jwks_uri that accepts every asymmetric algorithm: discovery lists the
// algorithms of ID tokens, not of access tokens, and each key's own alg still binds it.
func (is *issuer) discover(ctx context.Context) (*login.KeySet, error) {
	op, err := oidc.NewProvider(oidc.ClientContext(ctx, is.client), is.url)
	if err != nil {
		return nil, err
	}
	var doc struct {
		JWKS string `json:"jwks_uri"`
	}
	if err := op.Claims(&doc); err != nil {
		return nil, fmt.Errorf("read discovery document: %w", err)
	}
	if doc.JWKS == "" {
		return nil, errors.New("read discovery document: no jwks_uri")
	}
	return login.NewKeySet(login.KeySetOptions{
		URL: doc.JWKS, Client: is.client, Algs: login.SignatureAlgs(), Now: is.now, Timeout: is.timeout,
	}), nil
}
