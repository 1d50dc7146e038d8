package authz_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/pkg/authz"
)

// TestCachedSessionEndsWithItsLifetimes: with a session cache TTL longer than the idle timeout, a session
// left unused still ends at its idle timeout (the cache does not outlive the store's TTL), and an active
// one still ends at its absolute lifetime.
func TestCachedSessionEndsWithItsLifetimes(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		env := enginetest.New(t, enginetest.Options{TokenTTL: 1000 * time.Hour, CacheTTL: 24 * time.Hour,
			Engine: authz.Options{Lifetimes: authz.Lifetimes{Idle: time.Hour, Max: 30 * time.Hour, Login: time.Minute}}})
		cookie, _ := env.Login(t, "/")
		for range 4 { // in use, and touched every Idle/8: it lives on
			env.Clock.Advance(20 * time.Minute)
			allow(t, env, cookie)
		}
		env.Clock.Advance(59 * time.Minute)
		allow(t, env, cookie) // touches the record, which drops it from the cache
		allow(t, env, cookie) // cached again
		env.Clock.Advance(61 * time.Minute)
		d, err := env.Engine.Decide(ctx, enginetest.Navigate("/", cookie))
		require.NoError(t, err)
		require.Equal(t, authz.Redirect, d.Outcome, "unused for longer than the idle timeout: %s", d.Reason)
	})
	t.Run("absolute", func(t *testing.T) {
		env := enginetest.New(t, enginetest.Options{TokenTTL: 1000 * time.Hour, CacheTTL: 24 * time.Hour,
			Engine: authz.Options{Lifetimes: authz.Lifetimes{Idle: time.Hour, Max: 3 * time.Hour, Login: time.Minute}}})
		cookie, _ := env.Login(t, "/")
		for range 5 {
			env.Clock.Advance(30 * time.Minute)
			allow(t, env, cookie)
		}
		env.Clock.Advance(30 * time.Minute)
		d, err := env.Engine.Decide(ctx, enginetest.Navigate("/", cookie))
		require.NoError(t, err)
		require.Equal(t, authz.Redirect, d.Outcome, d.Reason)
	})
}
