package redistest

import (
	"net"
	"testing"
	"time"

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

// TestPauseResume: a paused server keeps its connections open but answers nothing until resumed.
func TestPauseResume(t *testing.T) {
	s := Start(t)
	c, err := net.Dial("tcp", s.Addr())
	require.NoError(t, err)
	defer c.Close()
	s.Pause()
	_, err = c.Write([]byte("PING\r\n"))
	require.NoError(t, err, "the connection stays open")
	require.NoError(t, c.SetReadDeadline(time.Now().Add(200*time.Millisecond)))
	buf := make([]byte, 16)
	_, err = c.Read(buf)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	require.True(t, ne.Timeout(), "no answer while paused: %v", err)

	s.Resume()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	n, err := c.Read(buf)
	require.NoError(t, err)
	require.Equal(t, "+PONG\r\n", string(buf[:n]), "the queued command is answered once resumed")

	s.Pause()
	s.Stop() // a paused server can still be stopped (SIGKILL)
	_, err = Do(s.Addr(), "PING")
	require.Error(t, err)
}
