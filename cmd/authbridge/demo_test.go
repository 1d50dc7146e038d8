package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDemoFlags(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{
			name: "help explains every flag", args: []string{"demo", "--help"}, wantCode: 0,
			wantStdout: []string{"Usage: authbridge demo", "-gateway", "grpc", "http", "-port", "8080", "-token-ttl", "2m0s", "-redis-url", "-log-level"},
		},
		{name: "unknown gateway", args: []string{"demo", "--gateway", "nginx"}, wantCode: 2, wantStderr: []string{`gateway "nginx"`}},
		{name: "bad duration", args: []string{"demo", "--token-ttl", "soon"}, wantCode: 2, wantStderr: []string{"token-ttl", "Usage: authbridge demo"}},
		{name: "token ttl too short", args: []string{"demo", "--token-ttl", "10ms"}, wantCode: 2, wantStderr: []string{"token ttl 10ms"}},
		{name: "stray argument", args: []string{"demo", "now"}, wantCode: 2, wantStderr: []string{`unexpected argument "now"`}},
		{name: "bad log level", args: []string{"demo", "--log-level", "loud"}, wantCode: 2, wantStderr: []string{`-log-level "loud"`}},
		{name: "top-level usage lists demo", args: []string{"help"}, wantCode: 0, wantStdout: []string{"authbridge demo"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := runMain(context.Background(), tt.args, &stdout, &stderr)
			require.Equal(t, tt.wantCode, code, "stderr: %s", stderr.String())
			for _, s := range tt.wantStdout {
				require.Contains(t, stdout.String(), s)
			}
			for _, s := range tt.wantStderr {
				require.Contains(t, stderr.String(), s)
			}
		})
	}
}

// bannerWriter signals when the demo has printed its banner, i.e. when everything listens.
type bannerWriter struct {
	mu    sync.Mutex
	b     strings.Builder
	ready chan struct{}
	once  sync.Once
}

func (w *bannerWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.b.Write(p)
	if strings.Contains(w.b.String(), "Ctrl-C") {
		w.once.Do(func() { close(w.ready) })
	}
	return n, err
}

func (w *bannerWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

func TestDemoRunsUntilInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	stdout := &bannerWriter{ready: make(chan struct{})}
	var stderr bytes.Buffer
	code := make(chan int, 1)
	go func() {
		code <- runMain(ctx, []string{"demo", "--port", "0", "--gateway", "http", "--log-level", "warn"}, stdout, &stderr)
	}()
	select {
	case <-stdout.ready:
	case c := <-code:
		t.Fatalf("demo exited early with %d: %s", c, stderr.String())
	}
	require.Contains(t, stdout.String(), "open    http://127.0.0.1:")
	require.Contains(t, stdout.String(), "forwardAuth")
	cancel() // what Ctrl-C does through signal.NotifyContext
	require.Equal(t, 0, <-code, stderr.String())
}
