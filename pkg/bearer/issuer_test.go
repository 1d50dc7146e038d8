package bearer_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/pkg/bearer"
	"github.com/authbridge/authbridge/pkg/login"
)

// requireUnavailable checks that err means "could not verify now": not a refusal, no challenge.
func requireUnavailable(t *testing.T, err error) {
	t.Helper()
	require.ErrorIs(t, err, bearer.ErrUnavailable)
	require.NotErrorIs(t, err, bearer.ErrInvalidToken)
	require.Empty(t, bearer.Description(err))
}

// switchable counts the requests a provider receives and answers 503 to all of them while down.
type switchable struct {
	down atomic.Bool
	hits atomic.Int64
}

func (s *switchable) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		if s.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// TestUnreachableExtraIssuer: an extra issuer that is down stops nothing: New succeeds, the main
// issuer's tokens verify, and its own tokens get ErrUnavailable (503, not 401). It is asked again only
// after a backoff that doubles (1s, 2s, ...), whatever the traffic, and once it answers its tokens verify.
func TestUnreachableExtraIssuer(t *testing.T) {
	f := newFixture(t, nil)
	sw := &switchable{}
	sw.down.Store(true)
	d := newIDP(t, f.clock, sw.wrap)
	v := f.verifier(t, func(o *bearer.Options) { o.Issuers = []string{f.a.Issuer(), d.Issuer()}; o.Logger = f.v2Logger() })
	require.Zero(t, sw.hits.Load(), "New does no I/O")

	_, err := v.Verify(t.Context(), f.sign(t, f.a, nil))
	require.NoError(t, err)
	tok := f.sign(t, d, nil)
	steps := []struct {
		advance  time.Duration
		wantHits int64
	}{
		{0, 1}, {0, 1}, {999 * time.Millisecond, 1}, {time.Millisecond, 2}, // backoff 1s
		{time.Second, 2}, {time.Second, 3}, // then 2s
		{3 * time.Second, 3}, {time.Second, 4}, // then 4s
	}
	for i, s := range steps {
		f.clock.Advance(s.advance)
		for range 5 {
			_, err = v.Verify(t.Context(), tok)
			requireUnavailable(t, err)
		}
		require.Equal(t, s.wantHits, sw.hits.Load(), "step %d", i)
	}

	sw.down.Store(false)
	f.clock.Advance(8 * time.Second)
	c, err := v.Verify(t.Context(), tok)
	require.NoError(t, err)
	require.Equal(t, d.Issuer(), c.Issuer)
	require.Equal(t, int64(4+2), sw.hits.Load(), "discovery, then the key set")
	logs := f.logs.String()
	require.Contains(t, logs, "bearer token issuer not discovered")
	require.Contains(t, logs, "bearer token issuer discovered")
	require.NotContains(t, logs, tok)
}

// TestIssuerKeysUnreachable: the issuer's key set cannot be fetched: 503 until the next fetch is due
// (even once the keys are back: the kid is unknown for want of keys, not refused), then the token
// verifies.
func TestIssuerKeysUnreachable(t *testing.T) {
	f := newFixture(t, nil)
	tok := f.sign(t, f.a, nil)
	f.a.SetKeysDown(true)
	_, err := f.v.Verify(t.Context(), tok)
	requireUnavailable(t, err)
	f.a.SetKeysDown(false)
	f.clock.Advance(login.KeyRefetchInterval - time.Second)
	_, err = f.v.Verify(t.Context(), tok)
	requireUnavailable(t, err)
	require.Equal(t, 1, f.a.Stats().KeyFetches)
	f.clock.Advance(time.Second)
	_, err = f.v.Verify(t.Context(), tok)
	require.NoError(t, err)
	require.Equal(t, 2, f.a.Stats().KeyFetches)
}

// TestIssuerMisconfigured: an issuer whose discovery document names another issuer (here: the
// configured one lacks the provider's trailing slash) is never trusted: its tokens get 503, and the
// keys are never fetched.
func TestIssuerMisconfigured(t *testing.T) {
	f := newFixture(t, nil)
	noSlash := strings.TrimSuffix(f.a.Issuer(), "/")
	v := f.verifier(t, func(o *bearer.Options) { o.Issuers = []string{noSlash} })
	_, err := v.Verify(t.Context(), f.sign(t, f.a, map[string]any{"iss": noSlash}))
	requireUnavailable(t, err)
	require.ErrorContains(t, err, "did not match")
	require.Zero(t, f.a.Stats().KeyFetches)
}

// TestIssuerStalled: a caller whose context ends while the issuer does not answer gets ErrUnavailable
// at once; the discovery goes on, bounded by Options.Timeout, and later callers share it.
func TestIssuerStalled(t *testing.T) {
	f := newFixture(t, nil)
	release := make(chan struct{})
	var hits atomic.Int64
	d := newIDP(t, f.clock, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
	})
	t.Cleanup(func() { close(release) }) // before the server's Close, which waits for its handlers
	v := f.verifier(t, func(o *bearer.Options) { o.Issuers = []string{d.Issuer()}; o.Timeout = time.Minute })
	tok := f.sign(t, d, nil)
	for range 3 {
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		_, err := v.Verify(ctx, tok)
		cancel()
		requireUnavailable(t, err)
		require.ErrorIs(t, err, context.DeadlineExceeded)
	}
	require.Equal(t, int64(1), hits.Load(), "one discovery in flight, shared")
}

// TestUnknownKidRefetchLimit: tokens with kids the issuer never published make at most one key-set
// fetch per login.KeyRefetchInterval, however many arrive at once, and each is refused (401), not
// treated as an outage.
func TestUnknownKidRefetchLimit(t *testing.T) {
	f := newFixture(t, nil)
	forger, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	_, err = f.v.Verify(t.Context(), f.sign(t, f.a, nil))
	require.NoError(t, err)
	require.Equal(t, 1, f.a.Stats().KeyFetches)

	forge := func(t *testing.T, n int) {
		payload := payloadOf(t, f.sign(t, f.a, nil))
		toks := make([]string, n)
		for i := range n {
			toks[i] = signRaw(t, forger, fmt.Sprintf(`{"alg":"RS256","kid":"forged-%d"}`, i), payload)
		}
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { _, errs[i] = f.v.Verify(context.Background(), toks[i]) })
		}
		wg.Wait()
		for i, err := range errs {
			f.requireRefused(t, err, bearer.ErrSignature, toks[i])
		}
	}
	forge(t, 30)
	require.Equal(t, 1, f.a.Stats().KeyFetches, "30 unknown kids right after a fetch: no fetch")
	f.clock.Advance(login.KeyRefetchInterval)
	forge(t, 30)
	require.Equal(t, 2, f.a.Stats().KeyFetches, "30 unknown kids an interval later: one fetch for all")
	forge(t, 30)
	require.Equal(t, 2, f.a.Stats().KeyFetches)
	require.Zero(t, f.b.Stats().KeyFetches, "the other issuer is not bothered")
}
