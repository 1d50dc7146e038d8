package bearer_test

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/pkg/bearer"
)

// TestCacheOneSignatureCheck: 1,000 verifications of one token cost one signature check, and each
// returns the same claims.
func TestCacheOneSignatureCheck(t *testing.T) {
	f := newFixture(t, nil)
	tok := f.sign(t, f.a, nil)
	first, err := f.v.Verify(t.Context(), tok)
	require.NoError(t, err)
	for range 999 {
		c, err := f.v.Verify(t.Context(), tok)
		require.NoError(t, err)
		require.Same(t, first, c)
	}
	require.EqualValues(t, 1, f.sigCount.Load())
	require.Equal(t, 1, bearer.CacheLen(f.v))
}

// TestCacheEndsAtExp: a cached token is served until its exp and never after: from exp on it is
// verified in full each time (accepted inside Skew, not cached), then refused.
func TestCacheEndsAtExp(t *testing.T) {
	f := newFixture(t, nil)
	tok := f.sign(t, f.a, map[string]any{"exp": f.clock.Now().Add(10 * time.Second).Unix()})
	steps := []struct {
		advance time.Duration
		want    error
		sigs    int64 // signature checks so far
		cached  int   // entries after the step
	}{
		{0, nil, 1, 1},
		{9 * time.Second, nil, 1, 1},
		{time.Second, nil, 2, 0}, // at exp: not served from the cache, nor put back
		{0, nil, 3, 0},
		{29 * time.Second, nil, 4, 0},
		{time.Second, bearer.ErrExpired, 5, 0},
	}
	for i, s := range steps {
		f.clock.Advance(s.advance)
		_, err := f.v.Verify(t.Context(), tok)
		if s.want == nil {
			require.NoError(t, err, "step %d", i)
		} else {
			f.requireRefused(t, err, s.want, tok)
		}
		require.Equal(t, s.sigs, f.sigCount.Load(), "step %d", i)
		require.Equal(t, s.cached, bearer.CacheLen(f.v), "step %d", i)
	}
}

// TestCacheKeepsNoFailure: a refused token is checked in full every time and leaves nothing behind,
// so refused traffic can neither fill the cache nor get a refusal remembered.
func TestCacheKeepsNoFailure(t *testing.T) {
	f := newFixture(t, nil)
	tokens := []string{
		f.sign(t, f.a, map[string]any{"aud": "https://other.example.com"}),
		f.sign(t, f.a, map[string]any{"exp": f.clock.Now().Add(-time.Hour).Unix()}),
	}
	for range 3 {
		for _, tok := range tokens {
			_, err := f.v.Verify(t.Context(), tok)
			require.ErrorIs(t, err, bearer.ErrInvalidToken)
		}
	}
	require.EqualValues(t, 6, f.sigCount.Load())
	require.Zero(t, bearer.CacheLen(f.v))
}

// TestCacheBounded: the cache never holds more than CacheSize tokens; when full it first drops expired
// ones, and a token that no longer fits is still verified.
func TestCacheBounded(t *testing.T) {
	f := newFixture(t, nil)
	v := f.verifier(t, func(o *bearer.Options) { o.CacheSize = 10 })
	var wg sync.WaitGroup
	for i := range 9 {
		tok := f.sign(t, f.a, map[string]any{"jti": fmt.Sprint(i), "exp": f.clock.Now().Add(time.Minute).Unix()})
		_, err := v.Verify(t.Context(), tok)
		require.NoError(t, err)
	}
	long := f.sign(t, f.a, map[string]any{"jti": "long"})
	_, err := v.Verify(t.Context(), long)
	require.NoError(t, err)
	require.Equal(t, 10, bearer.CacheLen(v))

	f.clock.Advance(2 * time.Minute)
	_, err = v.Verify(t.Context(), f.sign(t, f.a, map[string]any{"jti": "new"}))
	require.NoError(t, err)
	require.Equal(t, 2, bearer.CacheLen(v), "the nine expired entries made room, nothing else went")

	more := make([]string, 40)
	for i := range more {
		more[i] = f.sign(t, f.a, map[string]any{"jti": fmt.Sprint("more-", i)})
	}
	errs := make([]error, len(more))
	sizes := make([]int, len(more))
	for i := range more {
		wg.Go(func() {
			_, errs[i] = v.Verify(t.Context(), more[i])
			sizes[i] = bearer.CacheLen(v)
		})
	}
	wg.Wait()
	for i := range more {
		require.NoError(t, errs[i])
		require.LessOrEqual(t, sizes[i], 10)
	}
	require.Equal(t, 10, bearer.CacheLen(v))
}

// TestCacheOff: a negative CacheSize keeps nothing: every verification checks the signature.
func TestCacheOff(t *testing.T) {
	f := newFixture(t, func(o *bearer.Options) { o.CacheSize = -1 })
	tok := f.sign(t, f.a, nil)
	for range 3 {
		_, err := f.v.Verify(t.Context(), tok)
		require.NoError(t, err)
	}
	require.EqualValues(t, 3, f.sigCount.Load())
}

// TestTokenKey: the cache key is the SHA-256 of the whole token, across the hashing buffer's bounds,
// so two tokens that share a long prefix never share an entry.
func TestTokenKey(t *testing.T) {
	for _, n := range []int{0, 1, 511, 512, 513, 1024, 5000} {
		raw := strings.Repeat("a", n)
		require.Equal(t, sha256.Sum256([]byte(raw)), bearer.TokenKey(raw), n)
		require.NotEqual(t, bearer.TokenKey(raw+"b"), bearer.TokenKey(raw+"c"), n)
	}
}
