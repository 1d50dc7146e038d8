package server_test

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/authbridge/authbridge/pkg/server"
	"github.com/authbridge/authbridge/pkg/session"
)

// h2conn is a client speaking HTTP/2 frames to the gRPC listener by hand, so that a test can do what
// a well-behaved grpc-go client never would: open streams beyond the bound, ping too often.
type h2conn struct {
	t        *testing.T
	conn     net.Conn
	fr       *http2.Framer
	frames   chan http2.Frame // copies of what the server sent, until the connection closes
	settings map[http2.SettingID]uint32
}

func dialH2(t *testing.T, addr string) *h2conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	c := &h2conn{t: t, conn: conn, fr: http2.NewFramer(conn, conn), frames: make(chan http2.Frame, 64),
		settings: map[http2.SettingID]uint32{}}
	_, err = conn.Write([]byte(http2.ClientPreface))
	require.NoError(t, err)
	require.NoError(t, c.fr.WriteSettings())
	reader := http2.NewFramer(nil, conn)
	go func() {
		defer close(c.frames)
		for {
			f, err := reader.ReadFrame()
			if err != nil {
				return
			}
			switch f := f.(type) {
			case *http2.SettingsFrame:
				if !f.IsAck() {
					c.frames <- copySettings(f)
				}
			case *http2.GoAwayFrame:
				c.frames <- &goAway{code: f.ErrCode, debug: string(f.DebugData())}
			case *http2.RSTStreamFrame:
				c.frames <- &rst{stream: f.StreamID, code: f.ErrCode}
			}
		}
	}()
	s := c.next(5 * time.Second)
	settings, ok := s.(*settingsCopy)
	require.True(t, ok, "the server's first frame is its SETTINGS, got %T", s)
	c.settings = settings.values
	require.NoError(t, c.fr.WriteSettingsAck())
	return c
}

// The reader hands over copies: a Framer reuses its frames.
type (
	settingsCopy struct {
		http2.Frame
		values map[http2.SettingID]uint32
	}
	goAway struct {
		http2.Frame
		code  http2.ErrCode
		debug string
	}
	rst struct {
		http2.Frame
		stream uint32
		code   http2.ErrCode
	}
)

func copySettings(f *http2.SettingsFrame) *settingsCopy {
	s := &settingsCopy{values: map[http2.SettingID]uint32{}}
	_ = f.ForeachSetting(func(st http2.Setting) error { s.values[st.ID] = st.Val; return nil })
	return s
}

// next is the server's next frame of interest, or nil if none comes within d or the connection closed.
func (c *h2conn) next(d time.Duration) http2.Frame {
	select {
	case f := <-c.frames:
		return f
	case <-time.After(d):
		return nil
	}
}

// openCheck opens a Check stream and sends no message: the server's handler waits for it, so the
// stream stays open.
func (c *h2conn) openCheck(id uint32) {
	var b bytes.Buffer
	enc := hpack.NewEncoder(&b)
	for _, h := range [][2]string{{":method", "POST"}, {":scheme", "http"}, {":authority", "authbridge"},
		{":path", "/envoy.service.auth.v3.Authorization/Check"}, {"content-type", "application/grpc"}, {"te", "trailers"}} {
		require.NoError(c.t, enc.WriteField(hpack.HeaderField{Name: h[0], Value: h[1]}))
	}
	require.NoError(c.t, c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: b.Bytes(), EndHeaders: true}))
}

func startLimited(t *testing.T, l server.GRPCLimits) *fixture {
	t.Helper()
	o := options(t, session.NewMemoryStore(nil))
	o.GRPC = l
	return start(t, o)
}

// TestGRPCStreamBound: one connection cannot hold more streams than GRPCLimits.MaxStreams (each is a
// goroutine); the bound is announced in SETTINGS, a stream beyond it is refused, not queued, and a
// stream that ends frees its place.
func TestGRPCStreamBound(t *testing.T) {
	f := startLimited(t, server.GRPCLimits{MaxStreams: 2})
	c := dialH2(t, f.grpc)
	require.Equal(t, uint32(2), c.settings[http2.SettingMaxConcurrentStreams], "announced to the client")

	steps := []struct {
		name    string
		do      func()
		refused uint32 // the stream the server refuses next; 0: none within the wait
	}{
		{"two streams within the bound", func() { c.openCheck(1); c.openCheck(3) }, 0},
		{"a third stream beyond it", func() { c.openCheck(5) }, 5},
		{"a fourth, still beyond it", func() { c.openCheck(7) }, 7},
		{"a stream ends, a new one takes its place", func() {
			require.NoError(t, c.fr.WriteRSTStream(1, http2.ErrCodeCancel))
			time.Sleep(200 * time.Millisecond) // the server's reader handles frames in order, but its cleanup is async
			c.openCheck(9)
		}, 0},
		{"and the bound holds again", func() { c.openCheck(11) }, 11},
	}
	for _, s := range steps {
		s.do()
		f := c.next(500 * time.Millisecond)
		if s.refused == 0 {
			require.Nil(t, f, "%s: nothing refused", s.name)
			continue
		}
		r, ok := f.(*rst)
		require.True(t, ok, "%s: want RST_STREAM, got %#v", s.name, f)
		require.Equal(t, s.refused, r.stream, s.name)
		require.Equal(t, http2.ErrCodeRefusedStream, r.code, s.name)
	}
}

// TestGRPCIdleConnectionClosed: a connection without a stream is sent a GOAWAY after IdleTimeout; one
// with a stream open is not, however long it lasts.
func TestGRPCIdleConnectionClosed(t *testing.T) {
	const idle = 300 * time.Millisecond
	f := startLimited(t, server.GRPCLimits{IdleTimeout: idle})

	busy := dialH2(t, f.grpc)
	busy.openCheck(1)
	quiet := dialH2(t, f.grpc)

	g, ok := quiet.next(10 * idle).(*goAway)
	require.True(t, ok, "the idle connection is sent a GOAWAY")
	require.Equal(t, http2.ErrCodeNo, g.code, "a graceful one")
	require.Nil(t, busy.next(4*idle), "a connection with a stream open stays")
}

// TestGRPCKeepalivePings: gateways may ping to keep their connections open, with no stream open too,
// as often as PingMinInterval; a client pinging faster is sent a GOAWAY too_many_pings.
func TestGRPCKeepalivePings(t *testing.T) {
	const every = 200 * time.Millisecond
	f := startLimited(t, server.GRPCLimits{PingMinInterval: every})
	tests := []struct {
		name     string
		interval time.Duration
		goAway   bool
	}{
		{"pings at the allowed interval, no stream open", every + 100*time.Millisecond, false},
		{"a ping flood", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialH2(t, f.grpc)
			for i := range 5 {
				require.NoError(t, c.fr.WritePing(false, [8]byte{byte(i)}))
				time.Sleep(tt.interval)
			}
			got := c.next(time.Second)
			if !tt.goAway {
				require.Nil(t, got, "the pinging client keeps its connection")
				return
			}
			g, ok := got.(*goAway)
			require.True(t, ok, "want GOAWAY, got %#v", got)
			require.Equal(t, http2.ErrCodeEnhanceYourCalm, g.code)
			require.Equal(t, "too_many_pings", g.debug)
		})
	}
}
