package config

import (
	"crypto/tls"
	"crypto/x509"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/testca"
)

// TestLoadTLSFiles: the CA files become the only trusted roots, the client pair is loaded, and the
// Redis server name is kept; a rediss:// URL or tls.enabled with addrs turns Redis TLS on.
func TestLoadTLSFiles(t *testing.T) {
	ca, other := testca.New(t, "private CA"), testca.New(t, "other CA")
	srv, otherSrv := ca.Server(t, "idp"), other.Server(t, "idp")
	cli := ca.Client(t, "authbridge")
	base := []string{
		"AUTHBRIDGE_OIDC_ISSUER_URL=https://idp.example.com", "AUTHBRIDGE_OIDC_CLIENT_ID=authbridge",
		"AUTHBRIDGE_OIDC_REDIRECT_URL=https://auth.example.com/oauth2/callback",
		"AUTHBRIDGE_SESSION_COOKIE_SECRET=" + testCookieKey,
		"AUTHBRIDGE_OIDC_CA_FILE=" + ca.CAFile,
		"AUTHBRIDGE_SESSION_REDIS_TLS_CA_FILE=" + ca.CAFile,
		"AUTHBRIDGE_SESSION_REDIS_TLS_CERT_FILE=" + cli.CertFile,
		"AUTHBRIDGE_SESSION_REDIS_TLS_KEY_FILE=" + cli.KeyFile,
		"AUTHBRIDGE_SESSION_REDIS_TLS_SERVER_NAME=redis.internal",
	}
	verifies := func(pool *x509.CertPool, certFile, keyFile string) bool {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		require.NoError(t, err)
		leaf, err := x509.ParseCertificate(pair.Certificate[0])
		require.NoError(t, err)
		_, err = leaf.Verify(x509.VerifyOptions{Roots: pool})
		return err == nil
	}
	for _, tc := range []struct {
		name string
		env  []string
	}{
		{"rediss url", []string{"AUTHBRIDGE_SESSION_REDIS_URL=rediss://10.0.0.5:6380"}},
		{"sentinel addrs with tls.enabled", []string{"AUTHBRIDGE_SESSION_REDIS_ADDRS=s-0:26379,s-1:26379",
			"AUTHBRIDGE_SESSION_REDIS_MASTER_NAME=mymaster", "AUTHBRIDGE_SESSION_REDIS_TLS_ENABLED=true"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load("", append(append([]string{}, base...), tc.env...))
			require.NoError(t, err)
			require.True(t, verifies(c.OIDC.RootCAs, srv.CertFile, srv.KeyFile), "the private CA is trusted")
			require.False(t, verifies(c.OIDC.RootCAs, otherSrv.CertFile, otherSrv.KeyFile), "only the private CA")
			rc := c.Session.Redis.TLS.Config
			require.NotNil(t, rc)
			require.True(t, verifies(rc.RootCAs, srv.CertFile, srv.KeyFile))
			require.False(t, verifies(rc.RootCAs, otherSrv.CertFile, otherSrv.KeyFile))
			require.Len(t, rc.Certificates, 1, "the client certificate")
			require.Equal(t, "redis.internal", rc.ServerName)
			require.Equal(t, uint16(tls.VersionTLS12), rc.MinVersion)
		})
	}

	t.Run("defaults: system roots, no Redis TLS", func(t *testing.T) {
		_, err := Load("", base[:4:4])
		require.Error(t, err, "store redis needs an address")
		c, err := Load("", append(base[:4:4], "AUTHBRIDGE_SESSION_REDIS_URL=redis://redis:6379"))
		require.NoError(t, err)
		require.Nil(t, c.OIDC.RootCAs)
		require.Nil(t, c.Session.Redis.TLS.Config)
	})

	t.Run("rediss url alone: TLS on with the system roots", func(t *testing.T) {
		c, err := Load("", append(base[:4:4], "AUTHBRIDGE_SESSION_REDIS_URL=rediss://redis:6379"))
		require.NoError(t, err)
		require.NotNil(t, c.Session.Redis.TLS.Config)
		require.Nil(t, c.Session.Redis.TLS.Config.RootCAs)
		require.Empty(t, c.Session.Redis.TLS.Config.Certificates)
	})
}
