package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/redistest"
	"github.com/authbridge/authbridge/internal/testca"
)

// TestServePrivateCA: with the provider and Redis behind a private CA (Redis requiring a client
// certificate), serve discovers the provider, exchanges the code and keeps the session in Redis over
// TLS, all from oidc.ca_file and session.redis.tls.*.
func TestServePrivateCA(t *testing.T) {
	ca := testca.New(t, "private CA")
	// TLS plumbing is under test, not latency: a TLS handshake on a loaded machine can outlast the
	// default 150ms command budget and read as an outage (503).
	inst := startWith(t, time.Hour, ca, nil, "AUTHBRIDGE_SESSION_REDIS_TIMEOUT=2s")
	_, cookie := browserLogin(t, inst)

	resp := traefikAuth(t, inst, cookie, "text/html")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.True(t, strings.HasPrefix(resp.Header.Get("Authorization"), "Bearer ey"))
	require.Equal(t, http.StatusOK, status(t, inst.admin+"/readyz"))

	keys, err := redistest.Do(inst.redis.Addr(), "DBSIZE")
	require.NoError(t, err)
	require.NotEqual(t, "0", keys, "the session is in the TLS Redis")
}
