package session_test

import (
	"context"
	"errors"
	"fmt"
	"os"
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

// redisHarness builds, for each case, a RedisStore on its own key prefix over a fresh client from o.
func redisHarness(o session.RedisOptions) sessiontest.Harness {
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
	_, err = s.Take(ctx, "k")
	require.Error(t, err)
	require.NotErrorIs(t, err, session.ErrNotFound)
	require.Error(t, s.Put(ctx, "k", []byte("v"), time.Hour))
	require.Error(t, s.Delete(ctx, "k"))
	require.Error(t, s.Ping(ctx))

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
			require.Equal(t, 2*time.Second, o.DialTimeout)
			require.Equal(t, time.Second, o.ReadTimeout)
			require.Equal(t, time.Second, o.WriteTimeout)
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
		{"url query kept", session.RedisOptions{URL: "redis://r.example?dial_timeout=5s&pool_size=7"}, func(t *testing.T, c redis.UniversalClient) {
			o := c.(*redis.Client).Options()
			require.Equal(t, 5*time.Second, o.DialTimeout)
			require.Equal(t, 7, o.PoolSize)
		}, ""},
		{"one addr", session.RedisOptions{Addrs: []string{"r.example:6379"}, DB: 1}, standalone("r.example:6379", 1), ""},
		{"sentinel", session.RedisOptions{Addrs: []string{"s1:26379", "s2:26379"}, MasterName: "m", Password: secret},
			func(t *testing.T, c redis.UniversalClient) {
				o := c.(*redis.Client).Options()
				require.Equal(t, "FailoverClient", o.Addr)
				require.Equal(t, secret, o.Password)
			}, ""},
		{"cluster", session.RedisOptions{Addrs: []string{"n1:6379", "n2:6379"}, TLS: true}, func(t *testing.T, c redis.UniversalClient) {
			o := c.(*redis.ClusterClient).Options()
			require.Equal(t, []string{"n1:6379", "n2:6379"}, o.Addrs)
			require.NotNil(t, o.TLSConfig)
		}, ""},
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
