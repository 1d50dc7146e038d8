package redistest

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStartStopRestart(t *testing.T) {
	s := Start(t)
	require.Equal(t, "redis://"+s.Addr(), s.URL())
	got, err := Do(s.Addr(), "PING")
	require.NoError(t, err)
	require.Equal(t, "PONG", got)
	_, err = Do(s.Addr(), "SET", "k", "v\r\n with space")
	require.NoError(t, err)
	got, err = Do(s.Addr(), "GET", "k")
	require.NoError(t, err)
	require.Equal(t, "v\r\n with space", got)
	_, err = Do(s.Addr(), "NOSUCHCOMMAND")
	require.ErrorContains(t, err, "unknown command")

	s.Stop()
	_, err = Do(s.Addr(), "PING")
	require.Error(t, err, "stopped")
	s.Stop() // idempotent

	s.Restart()
	got, err = Do(s.Addr(), "GET", "k")
	require.NoError(t, err)
	require.Empty(t, got, "no persistence across restarts")
	got, err = Do(s.Addr(), "CONFIG", "GET", "save")
	require.NoError(t, err)
	require.Equal(t, "save\n", got)
}

func TestSentinel(t *testing.T) {
	m := Start(t)
	s := StartSentinel(t, m, "mymaster")
	got, err := Do(s.Addr(), "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster")
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1\n"+m.Addr()[len("127.0.0.1:"):], got)
}
