package session_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/redistest"
	"github.com/authbridge/authbridge/pkg/session"
	"github.com/authbridge/authbridge/pkg/session/sessiontest"
)

// TestMain silences go-redis's own logger (dial retries, sentinel discovery), which writes to stderr
// and would bury test output; the tests check the errors the store returns instead.
func TestMain(m *testing.M) {
	redis.SetLogger(quietLogger{})
	os.Exit(m.Run())
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// redisHarness builds, for each case, a RedisStore on its own key prefix over a fresh client from o. The
// conformance suite checks behaviour, not latency: its clients get a timeout that a busy test machine
// running many concurrent calls under -race cannot exceed by accident.
func redisHarness(o session.RedisOptions) sessiontest.Harness {
	o.Timeout = 2 * time.Second
	var n atomic.Int64
	return sessiontest.Harness{New: func(t *testing.T) session.Store {
		return session.NewRedisStore(newClient(t, o), fmt.Sprintf("case%d:", n.Add(1)))
	}}
}

func newClient(t *testing.T, o session.RedisOptions) redis.UniversalClient {
	t.Helper()
	c, err := session.NewRedisClient(o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestRedisStore(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	sessiontest.Run(t, redisHarness(session.RedisOptions{URL: srv.URL()}))
}

func TestRedisStoreSentinel(t *testing.T) {
	t.Parallel()
	master := redistest.Start(t)
	sentinel := redistest.StartSentinel(t, master, "authbridge")
	sessiontest.Run(t, redisHarness(session.RedisOptions{Addrs: []string{sentinel.Addr()}, MasterName: "authbridge"}))
}

func TestRedisStoreCluster(t *testing.T) {
	t.Parallel()
	node := redistest.StartCluster(t)
	// The same seed twice: more than one address is what selects a cluster client.
	sessiontest.Run(t, redisHarness(session.RedisOptions{Addrs: []string{node.Addr(), node.Addr()}}))
}

func TestRedisStoreKeysAndTTL(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s := session.NewRedisStore(newClient(t, session.RedisOptions{URL: srv.URL()}), "")
	require.NoError(t, s.Put(t.Context(), "k", []byte("v"), 90*time.Second))
	pttl, err := redistest.Do(srv.Addr(), "PTTL", session.DefaultRedisPrefix+"k")
	require.NoError(t, err)
	ms, err := strconv.Atoi(pttl)
	require.NoError(t, err)
	require.Greater(t, ms, 80_000, "the write carried the TTL")
	require.LessOrEqual(t, ms, 90_000)
	keys, err := redistest.Do(srv.Addr(), "KEYS", "*")
	require.NoError(t, err)
	require.Equal(t, session.DefaultRedisPrefix+"k", keys)
}

func TestRedisStoreOutageAndReconnect(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s := session.NewRedisStore(newClient(t, session.RedisOptions{URL: srv.URL()}), "")
	ctx := t.Context()
	require.NoError(t, s.Put(ctx, "k", []byte("v"), time.Hour))

	srv.Stop()
	_, err := s.Get(ctx, "k")
	require.Error(t, err)
	require.NotErrorIs(t, err, session.ErrNotFound, "an unreachable store is not a missing session")
	require.Error(t, s.Put(ctx, "k", []byte("v"), time.Hour))
	require.Error(t, s.Delete(ctx, "k"))
	require.Error(t, s.Ping(ctx))
	requireAtomicDown(t, s)

	srv.Restart()
	// The pool still holds connections to the dead process; the client must replace them itself.
	require.Eventually(t, func() bool { return s.Ping(ctx) == nil }, 5*time.Second, 10*time.Millisecond)
	_, err = s.Get(ctx, "k")
	require.ErrorIs(t, err, session.ErrNotFound, "the restarted server has no persistence")
	require.NoError(t, s.Put(ctx, "k", []byte("w"), time.Hour))
	got, err := s.Get(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, []byte("w"), got)
}

func TestNewRedisClient(t *testing.T) {
	const secret = "s3cret"
	type check func(t *testing.T, c redis.UniversalClient)
	standalone := func(addr string, db int) check {
		return func(t *testing.T, c redis.UniversalClient) {
			o := c.(*redis.Client).Options()
			require.Equal(t, addr, o.Addr)
			require.Equal(t, db, o.DB)
			requireTimeouts(t, session.DefaultRedisTimeout, o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout)
			require.True(t, o.ContextTimeoutEnabled, "request contexts bound the commands")
		}
	}
	tests := []struct {
		name    string
		opts    session.RedisOptions
		check   check
		wantErr string // substring; empty means success
	}{
		{"url", session.RedisOptions{URL: "redis://r.example:6380/2"}, standalone("r.example:6380", 2), ""},
		{"url default port", session.RedisOptions{URL: "redis://r.example"}, standalone("r.example:6379", 0), ""},
		{"url credentials", session.RedisOptions{URL: "redis://u:" + secret + "@r.example"}, func(t *testing.T, c redis.UniversalClient) {
			o := c.(*redis.Client).Options()
			require.Equal(t, "u", o.Username)
			require.Equal(t, secret, o.Password)
			require.Nil(t, o.TLSConfig)
		}, ""},
		{"password overrides url", session.RedisOptions{URL: "redis://u:old@r.example", Username: "v", Password: secret, DB: 3},
			func(t *testing.T, c redis.UniversalClient) {
				o := c.(*redis.Client).Options()
				require.Equal(t, "v", o.Username)
				require.Equal(t, secret, o.Password)
				require.Equal(t, 3, o.DB)
			}, ""},
		{"rediss", session.RedisOptions{URL: "rediss://r.example"}, func(t *testing.T, c redis.UniversalClient) {
			require.Equal(t, "r.example", c.(*redis.Client).Options().TLSConfig.ServerName)
		}, ""},
		{"tls flag on redis url", session.RedisOptions{URL: "redis://r.example", TLS: true}, func(t *testing.T, c redis.UniversalClient) {
			require.Equal(t, "r.example", c.(*redis.Client).Options().TLSConfig.ServerName)
		}, ""},
		{"url query kept, timeouts from Timeout", session.RedisOptions{URL: "redis://r.example?dial_timeout=5s&read_timeout=3s&pool_size=7", Timeout: 80 * time.Millisecond},
			func(t *testing.T, c redis.UniversalClient) {
				o := c.(*redis.Client).Options()
				requireTimeouts(t, 80*time.Millisecond, o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout)
				require.Equal(t, 7, o.PoolSize)
			}, ""},
		{"one addr", session.RedisOptions{Addrs: []string{"r.example:6379"}, DB: 1}, standalone("r.example:6379", 1), ""},
		{"sentinel", session.RedisOptions{Addrs: []string{"s1:26379", "s2:26379"}, MasterName: "m", Password: secret},
			func(t *testing.T, c redis.UniversalClient) {
				o := c.(*redis.Client).Options()
				require.Equal(t, "FailoverClient", o.Addr)
				require.Equal(t, secret, o.Password)
				requireTimeouts(t, session.DefaultRedisTimeout, o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout)
				require.True(t, o.ContextTimeoutEnabled)
			}, ""},
		{"cluster", session.RedisOptions{Addrs: []string{"n1:6379", "n2:6379"}, TLS: true, Timeout: time.Second}, func(t *testing.T, c redis.UniversalClient) {
			o := c.(*redis.ClusterClient).Options()
			require.Equal(t, []string{"n1:6379", "n2:6379"}, o.Addrs)
			require.NotNil(t, o.TLSConfig)
			requireTimeouts(t, time.Second, o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout)
			require.True(t, o.ContextTimeoutEnabled)
		}, ""},
		{"negative timeout", session.RedisOptions{URL: "redis://h", Timeout: -time.Second}, nil, "timeout -1s is negative"},
		{"nothing", session.RedisOptions{}, nil, "set url or addrs"},
		{"url and addrs", session.RedisOptions{URL: "redis://h", Addrs: []string{"h:1"}}, nil, "not both"},
		{"url and master", session.RedisOptions{URL: "redis://h", MasterName: "m"}, nil, "master name"},
		{"scheme", session.RedisOptions{URL: "http://u:" + secret + "@h"}, nil, `scheme "http"`},
		{"unix scheme", session.RedisOptions{URL: "unix:///tmp/redis.sock"}, nil, `scheme "unix"`},
		{"bad escape", session.RedisOptions{URL: "redis://u:" + secret + "%zz@h"}, nil, "cannot be parsed"},
		{"slash in password", session.RedisOptions{URL: "redis://u:123/" + secret + "@h"}, nil, "'@' outside"},
		{"question mark in password", session.RedisOptions{URL: "redis://u:12?" + secret + "=1@h"}, nil, "'@' outside"},
		{"hash in password", session.RedisOptions{URL: "redis://u:12#" + secret + "@h"}, nil, "'@' outside"},
		{"no host", session.RedisOptions{URL: "redis://u:" + secret + "@"}, nil, "no host"},
		{"port range", session.RedisOptions{URL: "redis://u:" + secret + "@h:99999"}, nil, `port "99999"`},
		{"db path", session.RedisOptions{URL: "redis://u:" + secret + "@h/abc"}, nil, "path must be"},
		{"unknown query", session.RedisOptions{URL: "redis://u:" + secret + "@h?password=" + secret}, nil, "unexpected option: password"},
		{"skip_verify", session.RedisOptions{URL: "rediss://u:" + secret + "@h?skip_verify=true"}, nil, "skip_verify"},
		{"skip_verify with a CA", session.RedisOptions{URL: "rediss://h?skip_verify=true", TLSConfig: &tls.Config{ServerName: "h"}}, nil, "skip_verify"},
		{"skip_verify on plain redis", session.RedisOptions{URL: "redis://h?skip_verify=1", TLS: true}, nil, "skip_verify"},
		{"bad addr", session.RedisOptions{Addrs: []string{"h:1", "nohost"}}, nil, `addrs[1] "nohost"`},
		{"negative db", session.RedisOptions{URL: "redis://h", DB: -1}, nil, "negative"},
		{"cluster db", session.RedisOptions{Addrs: []string{"a:1", "b:1"}, DB: 2}, nil, "cluster has only db 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := session.NewRedisClient(tt.opts)
			if tt.wantErr != "" {
				require.ErrorIs(t, err, session.ErrInvalidRedisOptions)
				require.ErrorContains(t, err, tt.wantErr)
				require.NotContains(t, err.Error(), secret, "the error leaks the password")
				return
			}
			require.NoError(t, err)
			t.Cleanup(func() { _ = c.Close() })
			tt.check(t, c)
		})
	}
}

func requireTimeouts(t *testing.T, want time.Duration, got ...time.Duration) {
	t.Helper()
	for i, g := range got {
		require.Equal(t, want, g, "timeout %d (dial, read, write, pool)", i)
	}
}

func TestRedisStoreBadTTLNeverPersists(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s := session.NewRedisStore(newClient(t, session.RedisOptions{URL: srv.URL()}), "")
	err := s.Put(t.Context(), "k", []byte("v"), 0)
	require.Error(t, err)
	require.False(t, errors.Is(err, session.ErrNotFound))
	keys, err := redistest.Do(srv.Addr(), "DBSIZE")
	require.NoError(t, err)
	require.Equal(t, "0", strings.TrimSpace(keys))
}

// requireAtomicDown checks that every coordination method of s reports an unreachable Redis as an
// error (not as a lost race or an empty index) and that no error names the key, member or value.
func requireAtomicDown(t *testing.T, s *session.RedisStore) {
	t.Helper()
	ctx := t.Context()
	const secret = "s3cret-key"
	var errs []error
	_, err := s.CompareAndSwap(ctx, secret, []byte(secret), []byte(secret), time.Hour)
	errs = append(errs, err)
	_, err = s.Acquire(ctx, secret, secret, time.Hour)
	errs = append(errs, err)
	_, err = s.Renew(ctx, secret, secret, time.Hour)
	errs = append(errs, err, s.Release(ctx, secret, secret), s.IndexAdd(ctx, secret, secret, secret, time.Hour))
	_, err = s.Index(ctx, secret)
	errs = append(errs, err, s.IndexRemove(ctx, secret, secret))
	for i, err := range errs {
		require.Error(t, err, "call %d", i)
		require.NotErrorIs(t, err, session.ErrNotFound, "call %d", i)
		require.NotContains(t, err.Error(), secret, "call %d", i)
	}
}

// TestRedisStoreAtomicKeysAndTTL checks on the wire that the coordination methods write under the
// store's prefix with the TTLs they promise, and that an index's TTL only ever grows.
func TestRedisStoreAtomicKeysAndTTL(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s := session.NewRedisStore(newClient(t, session.RedisOptions{URL: srv.URL()}), "")
	ctx := t.Context()
	pttl := func(key string) int {
		t.Helper()
		out, err := redistest.Do(srv.Addr(), "PTTL", session.DefaultRedisPrefix+key)
		require.NoError(t, err)
		ms, err := strconv.Atoi(out)
		require.NoError(t, err)
		return ms
	}
	require.NoError(t, s.Put(ctx, "rec", []byte("v"), time.Hour))
	ok, err := s.CompareAndSwap(ctx, "rec", []byte("v"), []byte("w"), 90*time.Second)
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = s.Acquire(ctx, "lease", "a", 90*time.Second)
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, s.IndexAdd(ctx, "ix", "m", "v", 90*time.Second))
	for _, k := range []string{"rec", "lease", "ix"} {
		require.InDelta(t, 85_000, pttl(k), 5_000, "%s carries the TTL", k)
	}

	require.NoError(t, s.IndexAdd(ctx, "ix", "n", "v", time.Second))
	require.Greater(t, pttl("ix"), 80_000, "a shorter ttl left the index's TTL alone")
	require.NoError(t, s.IndexAdd(ctx, "ix", "n", "v", time.Hour))
	require.Greater(t, pttl("ix"), 3_500_000, "a longer ttl extended it")
	ok, err = s.Renew(ctx, "lease", "a", time.Hour)
	require.NoError(t, err)
	require.True(t, ok)
	require.Greater(t, pttl("lease"), 3_500_000, "renew set the new TTL")
	ok, err = s.CompareAndSwap(ctx, "rec", []byte("v"), []byte("x"), 2*time.Hour)
	require.NoError(t, err)
	require.False(t, ok)
	require.Less(t, pttl("rec"), 100_000, "a failed swap left the TTL alone")

	out, err := redistest.Do(srv.Addr(), "KEYS", "*")
	require.NoError(t, err)
	keys := strings.Split(out, "\n")
	slices.Sort(keys)
	p := session.DefaultRedisPrefix
	require.Equal(t, []string{p + "ix", p + "lease", p + "rec"}, keys)

	require.NoError(t, s.Release(ctx, "lease", "a"))
	require.NoError(t, s.IndexRemove(ctx, "ix", "m", "n"))
	n, err := redistest.Do(srv.Addr(), "DBSIZE")
	require.NoError(t, err)
	require.Equal(t, "1", n, "release deleted the lease and an emptied index is gone")
}

// TestRedisStoreScriptFlush checks that the Lua scripts survive SCRIPT FLUSH (a restart, a failover
// to a replica that never saw them): EVALSHA fails with NOSCRIPT and the store falls back to EVAL.
func TestRedisStoreScriptFlush(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s := session.NewRedisStore(newClient(t, session.RedisOptions{URL: srv.URL()}), "")
	ctx := t.Context()
	for round := range 2 {
		_, err := redistest.Do(srv.Addr(), "SCRIPT", "FLUSH")
		require.NoError(t, err)
		require.NoError(t, s.Put(ctx, "rec", []byte("v"), time.Hour))
		ok, err := s.CompareAndSwap(ctx, "rec", []byte("v"), []byte("w"), time.Hour)
		require.NoError(t, err, "round %d", round)
		require.True(t, ok)
		ok, err = s.Acquire(ctx, "lease", "a", time.Hour)
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = s.Renew(ctx, "lease", "a", time.Hour)
		require.NoError(t, err)
		require.True(t, ok)
		require.NoError(t, s.Release(ctx, "lease", "a"))
		require.NoError(t, s.IndexAdd(ctx, "ix", "m", "v", time.Hour))
	}
}

// TestRedisStoreWrongType checks that an index call on a record's key (or the reverse) is an error
// that names neither key nor value, not a silent success.
func TestRedisStoreWrongType(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s := session.NewRedisStore(newClient(t, session.RedisOptions{URL: srv.URL()}), "")
	ctx := t.Context()
	const secret = "s3cret"
	require.NoError(t, s.Put(ctx, secret, []byte(secret), time.Hour))
	require.NoError(t, s.IndexAdd(ctx, secret+"-ix", secret, secret, time.Hour))
	_, err := s.CompareAndSwap(ctx, secret+"-ix", []byte(secret), []byte(secret), time.Hour)
	errs := []error{err, s.IndexAdd(ctx, secret, secret, secret, time.Hour)}
	_, err = s.Index(ctx, secret)
	errs = append(errs, err)
	for i, err := range errs {
		require.ErrorContains(t, err, "WRONGTYPE", "call %d", i)
		require.NotContains(t, err.Error(), secret, "call %d", i)
	}
}

func benchStore(b *testing.B) *session.RedisStore {
	srv := redistest.Start(b)
	c, err := session.NewRedisClient(session.RedisOptions{URL: srv.URL()})
	require.NoError(b, err)
	b.Cleanup(func() { _ = c.Close() })
	return session.NewRedisStore(c, "")
}

func BenchmarkRedisStoreGet(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	val := make([]byte, 2048) // about one sealed session
	require.NoError(b, s.Put(ctx, "k", val, time.Hour))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Get(ctx, "k"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRedisStoreCompareAndSwap(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	vals := [2][]byte{make([]byte, 2048), make([]byte, 2048)}
	vals[1][0] = 1
	require.NoError(b, s.Put(ctx, "k", vals[0], time.Hour))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ok, err := s.CompareAndSwap(ctx, "k", vals[i%2], vals[(i+1)%2], time.Hour)
		if err != nil || !ok {
			b.Fatalf("swap %d: %v, %v", i, ok, err)
		}
		i++
	}
}

// TestRedisStoreIndexBounded: an index keeps only members whose time has not run out, dropping the
// others at the next add (so a user's index cannot grow with every login forever), and expires with its
// longest-lived member, not with the longest ever added. Members written by an older authbridge (no end
// of their own) are kept, as is the expiry they were written with.
func TestRedisStoreIndexBounded(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s := session.NewRedisStore(newClient(t, session.RedisOptions{URL: srv.URL()}), "")
	ctx := t.Context()
	p := session.DefaultRedisPrefix
	do := func(args ...string) string {
		t.Helper()
		out, err := redistest.Do(srv.Addr(), args...)
		require.NoError(t, err)
		return out
	}
	pttl := func(key string) int { n, err := strconv.Atoi(do("PTTL", p+key)); require.NoError(t, err); return n }

	for i := range 500 {
		require.NoError(t, s.IndexAdd(ctx, "ix", "dead"+strconv.Itoa(i), "v", 20*time.Millisecond))
	}
	require.NoError(t, s.IndexAdd(ctx, "ix", "live", "v", time.Hour))
	require.Eventually(t, func() bool {
		ix, err := s.Index(ctx, "ix")
		return err == nil && len(ix) == 1
	}, 5*time.Second, 10*time.Millisecond, "ended members are not listed")
	require.NoError(t, s.IndexAdd(ctx, "ix", "login", "v", 2*time.Hour))
	require.Equal(t, "2", do("HLEN", p+"ix"), "the add dropped the ended members")

	require.InDelta(t, 7_200_000, pttl("ix"), 60_000, "the index lives as long as its longest member")
	require.NoError(t, s.IndexAdd(ctx, "ix", "login", "v", time.Minute)) // that session's TTL shrank
	require.InDelta(t, 3_600_000, pttl("ix"), 60_000, "and no longer")

	// An older authbridge's member: value without an end, index expiry set by PEXPIRE.
	do("HSET", p+"old", "m", "1700000000")
	do("PEXPIRE", p+"old", "10800000")
	require.NoError(t, s.IndexAdd(ctx, "old", "n", "1700000001", time.Hour))
	ix, err := s.Index(ctx, "old")
	require.NoError(t, err)
	require.Equal(t, map[string]string{"m": "1700000000", "n": "1700000001"}, ix)
	require.InDelta(t, 10_800_000, pttl("old"), 60_000, "the old expiry is kept for the old member")
}
