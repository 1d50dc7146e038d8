package redistest

import (
	"bufio"
	"crypto/tls"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/testca"
)

func TestStartTLS(t *testing.T) {
	ca := testca.New(t, "redis test CA")
	srv := ca.Server(t, "redis")
	cli := ca.Client(t, "authbridge")
	s := StartTLS(t, TLS{CertFile: srv.CertFile, KeyFile: srv.KeyFile, CAFile: ca.CAFile, RequireClientCert: true})
	require.Equal(t, "rediss://"+s.TLSAddr(), s.TLSURL())

	ping := func(certs []tls.Certificate) (string, error) {
		c, err := tls.Dial("tcp", s.TLSAddr(), &tls.Config{RootCAs: ca.Pool(), Certificates: certs, MinVersion: tls.VersionTLS12})
		if err != nil {
			return "", err
		}
		defer c.Close()
		require.NoError(t, c.SetDeadline(time.Now().Add(2*time.Second)))
		if _, err := c.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
			return "", err
		}
		return readReply(bufio.NewReader(c))
	}
	pair, err := tls.LoadX509KeyPair(cli.CertFile, cli.KeyFile)
	require.NoError(t, err)
	got, err := ping([]tls.Certificate{pair})
	require.NoError(t, err)
	require.Equal(t, "PONG", got)

	_, err = ping(nil)
	require.Error(t, err, "the server requires a client certificate")

	got, err = Do(s.Addr(), "PING")
	require.NoError(t, err, "the plain port stays open for the test's setup")
	require.Equal(t, "PONG", got)
}
