package session_test

import (
	"context"
	"crypto/tls"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/redistest"
	"github.com/authbridge/authbridge/internal/testca"
	"github.com/authbridge/authbridge/pkg/session"
	"github.com/authbridge/authbridge/pkg/session/sessiontest"
)

// tlsRedis is a real redis-server serving TLS with a certificate from a private CA and requiring client
// certificates from it.
func tlsRedis(t *testing.T) (*redistest.Server, *testca.CA, tls.Certificate) {
	t.Helper()
	ca := testca.New(t, "redis CA")
	srv := ca.Server(t, "redis")
	s := redistest.StartTLS(t, redistest.TLS{CertFile: srv.CertFile, KeyFile: srv.KeyFile, CAFile: ca.CAFile, RequireClientCert: true})
	cli := ca.Client(t, "authbridge")
	pair, err := tls.LoadX509KeyPair(cli.CertFile, cli.KeyFile)
	require.NoError(t, err)
	return s, ca, pair
}

// TestRedisStoreTLS runs the conformance suite over TLS with a private CA and a client certificate.
func TestRedisStoreTLS(t *testing.T) {
	t.Parallel()
	s, ca, pair := tlsRedis(t)
	conf := &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	sessiontest.Run(t, redisHarness(session.RedisOptions{URL: s.TLSURL(), TLSConfig: conf}))
}

// TestRedisTLSTrust: who trusts whom, for a URL and for an address list; refusals name the cause.
func TestRedisTLSTrust(t *testing.T) {
	t.Parallel()
	s, ca, pair := tlsRedis(t)
	other := testca.New(t, "other CA")
	otherCli := other.Client(t, "intruder")
	foreign, err := tls.LoadX509KeyPair(otherCli.CertFile, otherCli.KeyFile)
	require.NoError(t, err)

	conf := func(roots *testca.CA, certs ...tls.Certificate) *tls.Config {
		return &tls.Config{RootCAs: roots.Pool(), Certificates: certs, MinVersion: tls.VersionTLS12}
	}
	withName := conf(ca, pair)
	withName.ServerName = "redis.internal"
	tests := []struct {
		name    string
		opts    session.RedisOptions
		wantErr string // "" means PING succeeds
	}{
		{"trusted CA and client certificate, rediss url", session.RedisOptions{URL: s.TLSURL(), TLSConfig: conf(ca, pair)}, ""},
		{"trusted CA and client certificate, one address", session.RedisOptions{Addrs: []string{s.TLSAddr()}, TLSConfig: conf(ca, pair)}, ""},
		{"trusted CA, redis:// url with TLS options", session.RedisOptions{URL: "redis://" + s.TLSAddr(), TLSConfig: conf(ca, pair)}, ""},
		{"wrong CA", session.RedisOptions{URL: s.TLSURL(), TLSConfig: conf(other, pair)}, "certificate signed by unknown authority"},
		{"system roots only", session.RedisOptions{URL: s.TLSURL()}, "certificate signed by unknown authority"},
		{"no client certificate", session.RedisOptions{URL: s.TLSURL(), TLSConfig: conf(ca)}, "certificate required"},
		{"client certificate from another CA", session.RedisOptions{URL: s.TLSURL(), TLSConfig: conf(ca, foreign)}, "unknown certificate authority"},
		{"server name not in the certificate", session.RedisOptions{URL: s.TLSURL(), TLSConfig: withName}, "not redis.internal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Timeout = 2 * time.Second
			c := newClient(t, tt.opts)
			err := c.Ping(context.Background()).Err()
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

// TestRedisTLSConfigEveryKind: the TLS configuration reaches every kind of client (go-redis hands a
// failover client's TLSConfig to its Sentinel connections too), cloned, with the server name defaulted
// to the URL's host only where one host is dialled.
func TestRedisTLSConfigEveryKind(t *testing.T) {
	ca := testca.New(t, "redis CA")
	base := &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS13}
	named := base.Clone()
	named.ServerName = "redis.internal"
	tests := []struct {
		name           string
		opts           session.RedisOptions
		wantServerName string
	}{
		{"rediss url", session.RedisOptions{URL: "rediss://10.0.0.5:6380", TLSConfig: base}, "10.0.0.5"},
		{"one address", session.RedisOptions{Addrs: []string{"10.0.0.5:6380"}, TLSConfig: base}, ""},
		{"sentinel", session.RedisOptions{Addrs: []string{"s-0:26379", "s-1:26379"}, MasterName: "m", TLSConfig: base}, ""},
		{"cluster", session.RedisOptions{Addrs: []string{"c-0:6379", "c-1:6379"}, TLSConfig: base}, ""},
		{"server name kept", session.RedisOptions{URL: "rediss://10.0.0.5:6380", TLSConfig: named}, "redis.internal"},
		{"tls without config: system roots", session.RedisOptions{Addrs: []string{"c-0:6379", "c-1:6379"}, TLS: true}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, tt.opts)
			var got *tls.Config
			switch c := c.(type) {
			case *redis.Client:
				got = c.Options().TLSConfig
			case *redis.ClusterClient:
				got = c.Options().TLSConfig
			default:
				t.Fatalf("client %T", c)
			}
			require.NotNil(t, got)
			require.Equal(t, tt.wantServerName, got.ServerName)
			if tt.opts.TLSConfig == nil {
				require.Nil(t, got.RootCAs)
				require.Equal(t, uint16(tls.VersionTLS12), got.MinVersion)
				return
			}
			require.NotSame(t, tt.opts.TLSConfig, got, "cloned")
			require.Same(t, base.RootCAs, got.RootCAs)
			require.Equal(t, uint16(tls.VersionTLS13), got.MinVersion)
		})
	}
}

// TestRedisStoreSentinelTLS: a Sentinel and its master both serving TLS from a private CA and requiring
// client certificates; the failover client finds the master through the Sentinel and keeps sessions in
// it, all over TLS.
func TestRedisStoreSentinelTLS(t *testing.T) {
	t.Parallel()
	ca := testca.New(t, "redis CA")
	srv := ca.Server(t, "redis")
	cfg := redistest.TLS{CertFile: srv.CertFile, KeyFile: srv.KeyFile, CAFile: ca.CAFile, RequireClientCert: true}
	master := redistest.StartTLS(t, cfg)
	sentinel := redistest.StartSentinelTLS(t, master, "authbridge", cfg)
	cli := ca.Client(t, "authbridge")
	pair, err := tls.LoadX509KeyPair(cli.CertFile, cli.KeyFile)
	require.NoError(t, err)
	conf := &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	sessiontest.Run(t, redisHarness(session.RedisOptions{Addrs: []string{sentinel.TLSAddr()}, MasterName: "authbridge", TLSConfig: conf}))

	t.Run("without the client certificate", func(t *testing.T) {
		noCert := &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
		c := newClient(t, session.RedisOptions{Addrs: []string{sentinel.TLSAddr()}, MasterName: "authbridge", TLSConfig: noCert,
			Timeout: 2 * time.Second})
		require.Error(t, c.Ping(context.Background()).Err())
	})
}
