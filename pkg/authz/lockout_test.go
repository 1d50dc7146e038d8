package authz_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/internal/redistest"
	"github.com/authbridge/authbridge/pkg/authz"
	"github.com/authbridge/authbridge/pkg/session"
)

// usedMemory is INFO memory's used_memory, in bytes.
func usedMemory(t *testing.T, c *redis.Client) int64 {
	t.Helper()
	info, err := c.Info(ctx, "memory").Result()
	require.NoError(t, err)
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			require.NoError(t, err)
			return n
		}
	}
	t.Fatal("no used_memory in INFO memory")
	return 0
}

// TestUnauthenticatedTrafficCannotFillRedis is issue 10's "lock a whole office out" against a real
// redis-server: 10,000 navigations without a session from one address (the hidden-iframe or curl-loop
// attack, half of them with a 2 KiB return URL) add no key and no measurable memory to Redis, and a fresh
// browser from the same address then logs in; the login itself adds only its session and a
// single-use marker that expires with the login timeout.
func TestUnauthenticatedTrafficCannotFillRedis(t *testing.T) {
	rs := redistest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: rs.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	env := enginetest.New(t, enginetest.Options{Store: session.NewRedisStore(c, "")})
	const client = "203.0.113.7"
	longRD := "/oauth2/start?rd=/" + strings.Repeat("r", authz.MaxReturnURL-1)

	keysBefore, err := c.DBSize(ctx).Result()
	require.NoError(t, err)
	usedMemory(t, c) // the first INFO grows the connection's buffers; measure from the second
	memBefore := usedMemory(t, c)
	start := time.Now()
	const n = 10_000
	for i := range n {
		uri := "/dashboard?i=" + strconv.Itoa(i)
		if i%2 == 1 {
			uri = longRD
		}
		r := enginetest.Navigate(uri, "")
		r.Client = client
		d, err := env.Engine.Decide(ctx, r)
		require.NoError(t, err)
		require.Equal(t, authz.Redirect, d.Outcome, d.Reason) // never 429: nobody is locked out
	}
	elapsed := time.Since(start)
	keysAfter, err := c.DBSize(ctx).Result()
	require.NoError(t, err)
	memAfter := usedMemory(t, c)
	t.Logf("%d unauthenticated navigations from %s in %v: Redis keys %d -> %d, used_memory %d -> %d bytes (delta %+d)",
		n, client, elapsed.Round(time.Millisecond), keysBefore, keysAfter, memBefore, memAfter, memAfter-memBefore)
	require.Equal(t, keysBefore, keysAfter, "no key written")
	require.Less(t, memAfter-memBefore, int64(4<<10), "at most a few KB")

	// A fresh browser from the same address completes a login.
	b := newBrowser()
	r := enginetest.Navigate("/dashboard", "")
	r.Client = client
	d, err := env.Engine.Decide(ctx, r)
	require.NoError(t, err)
	b.apply(d.Cookies)
	cb := enginetest.Navigate(env.FollowToProvider(t, d.Location), b.header())
	cb.Client = client
	d, err = env.Engine.Decide(ctx, cb)
	require.NoError(t, err)
	require.Equal(t, authz.Redirect, d.Outcome, d.Reason)
	b.apply(d.Cookies)
	allow(t, env, b.header())

	keys, err := c.Keys(ctx, "*").Result()
	require.NoError(t, err)
	var markers []string
	usage := map[string]int64{}
	for _, k := range keys {
		if strings.Contains(k, "o:login:") {
			markers = append(markers, k)
		}
		usage[k], err = c.MemoryUsage(ctx, k).Result()
		require.NoError(t, err)
	}
	t.Logf("after one login: %d keys, MEMORY USAGE %v bytes", len(keys), usage)
	require.Len(t, markers, 1, "one single-use marker for the finished login")
	ttl, err := c.PTTL(ctx, markers[0]).Result()
	require.NoError(t, err)
	require.Positive(t, ttl)
	require.LessOrEqual(t, ttl, 10*time.Minute, "the marker lives no longer than the login could")
	val, err := c.Get(ctx, markers[0]).Result()
	require.NoError(t, err)
	require.Len(t, val, 1, "the marker holds nothing")
}
