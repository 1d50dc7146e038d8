package bearer_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/pkg/bearer"
)

// BenchmarkVerifyCached is an API client sending the same token again: a SHA-256 and a map lookup.
func BenchmarkVerifyCached(b *testing.B) {
	f := newFixture(b, nil)
	tok, err := f.a.AccessToken("app", "alice", "openid email")
	require.NoError(b, err)
	_, err = f.v.Verify(b.Context(), tok)
	require.NoError(b, err)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := f.v.Verify(b.Context(), tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyUncached is the full check of a token whose issuer's keys are already fetched: shape,
// claims, RS256 signature.
func BenchmarkVerifyUncached(b *testing.B) {
	f := newFixture(b, func(o *bearer.Options) { o.CacheSize = -1 })
	tok, err := f.a.AccessToken("app", "alice", "openid email")
	require.NoError(b, err)
	_, err = f.v.Verify(b.Context(), tok)
	require.NoError(b, err)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := f.v.Verify(b.Context(), tok); err != nil {
			b.Fatal(err)
		}
	}
}
