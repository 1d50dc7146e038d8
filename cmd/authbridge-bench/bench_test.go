package main

import (
	"bytes"
	"context"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestMain lets the test binary stand in for the bench binary when the bench re-executes itself to run
// a reference server.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && isRefCommand(os.Args[1]) {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	dir, err := os.MkdirTemp("", "authbridge-bench-test-")
	if err != nil {
		panic(err)
	}
	binDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// binDir holds the authbridge binary that the tests build.
var binDir string

// authbridgeBin builds cmd/authbridge once for all tests.
var authbridgeBin = sync.OnceValues(func() (string, error) {
	bin := filepath.Join(binDir, "authbridge")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/authbridge/authbridge/cmd/authbridge").CombinedOutput()
	if err != nil {
		return "", &buildError{err: err, out: string(out)}
	}
	return bin, nil
})

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return "build authbridge: " + e.err.Error() + "\n" + e.out }

func needSetup(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("AUTHBRIDGE_ALLOW_SKIP") == "1" {
			t.Skip("redis-server not on PATH")
		}
		t.Fatal("redis-server not on PATH: apt-get install -y redis-server (or AUTHBRIDGE_ALLOW_SKIP=1)")
	}
	bin, err := authbridgeBin()
	require.NoError(t, err)
	return bin
}

// row returns the cells of the Markdown table row whose first cell is name.
func row(t *testing.T, out, name string) []string {
	t.Helper()
	for line := range strings.Lines(out) {
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if len(cells) > 1 && cells[0] == name {
			return cells
		}
	}
	t.Fatalf("no row %q in:\n%s", name, out)
	return nil
}

// checkConnRows checks the --connections 2,4 table (with --grpc-conns 1): at each concurrency, each
// server over each connection shape, with load, no errors, and for authbridge its p99 against the
// no-op's and its goroutines per connection.
func checkConnRows(t *testing.T, out string) {
	t.Helper()
	seen := map[string]bool{}
	for line := range strings.Lines(out) {
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		if len(cells) != 14 {
			continue
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if _, err := strconv.Atoi(cells[0]); err != nil {
			continue // the header and the rule
		}
		name := strings.Join(cells[:4], " / ")
		seen[name] = true
		require.Positive(t, number(t, cells[4]), "%s req/s", name)
		require.Equal(t, "0", cells[9], "%s errors", name)
		if strings.HasPrefix(cells[3], "authbridge") {
			require.True(t, strings.HasSuffix(cells[8], "×"), "%s p99 ÷ no-op %q", name, cells[8])
			require.NotEqual(t, "n/a", cells[13], "%s goroutines/conn", name)
		}
	}
	var want []string
	for _, c := range []string{"2", "4"} {
		for _, shape := range []string{"HTTP, 1 conn/worker / " + c, "gRPC, shared conns / 1", "gRPC, 1 conn/worker / " + c} {
			servers := []string{rowCheck, rowExtAuthz}
			if strings.HasPrefix(shape, "HTTP") {
				servers = []string{rowAuth, rowHTTPNoop}
			}
			for _, s := range servers {
				want = append(want, c+" / "+shape+" / "+s)
			}
		}
	}
	require.ElementsMatch(t, want, slices.Collect(maps.Keys(seen)))
}

func number(t *testing.T, cell string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(strings.Fields(cell)[0], 64)
	require.NoError(t, err, "cell %q", cell)
	return v
}

// children lists the processes whose parent is this test process.
func children(t *testing.T) []int {
	t.Helper()
	var out []int
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	require.NoError(t, err)
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // exited meanwhile
		}
		i := bytes.LastIndexByte(b, ')')
		f := bytes.Fields(b[i+1:])
		if len(f) > 1 && string(f[1]) == strconv.Itoa(os.Getpid()) {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			out = append(out, pid)
		}
	}
	return out
}

func TestEndToEnd(t *testing.T) {
	bin := needSetup(t)
	common := []string{"--authbridge-bin", bin, "--concurrency", "2", "--sessions", "3", "--grpc-conns", "1", "--warmup", "100ms"}
	tests := []struct {
		name     string
		args     []string
		wantRows []string // rows of the results table with req/s > 0 and no errors
		wantText []string
		wantNot  []string
		check    func(t *testing.T, out string)
	}{
		{
			name: "compare",
			args: []string{"--compare", "--duration", "1s", "--rounds", "2"},
			wantRows: []string{rowAuth, rowAuth + labelNoCache, rowCheck, rowCheck + labelNoCache,
				rowHTTPNoop, rowHTTPRedis, rowExtAuthz, rowExtAuthzGet},
			wantText: []string{
				rowAuth + labelNoCache + " req/s ÷ " + rowHTTPRedis, rowCheck + labelNoCache + " req/s ÷ " + rowExtAuthzGet,
				rowAuth + " req/s ÷ " + rowHTTPNoop, rowCheck + " req/s ÷ " + rowExtAuthz, "oauth2-proxy",
			},
		},
		{
			// Every check is an allow with 0 errors, so each seeded session opens and passes as a login's.
			name:     "sessions seeded into Redis",
			args:     []string{"--seed-sessions", "200", "--duration", "1s", "--rounds", "1", "--http-client", "raw"},
			wantRows: []string{rowAuth, rowCheck},
			wantText: []string{"| " + rowAuth + " "},
		},
		{
			// It fails unless both ends ended every one of the user's sessions.
			name: "Redis alone: memory per session, ending one user's sessions",
			args: []string{"--redis-sessions", "200", "--user-sessions", "20"},
			wantText: []string{"used_memory per session", "MEMORY USAGE, one session's sealed record",
				"end 20 sessions of one user by subject", "end 20 sessions of one user by sid"},
		},
		{
			// Every row's connections are opened for its slice and closed after; any failed check is reported.
			name:     "many connections",
			args:     []string{"--connections", "4,2", "--duration", "600ms", "--rounds", "2", "--http-client", "raw"},
			wantText: []string{"concurrencies 2,4", "authbridge at rest"},
			wantNot:  []string{"errors, the first"},
			check:    checkConnRows,
		},
		{
			name:     "soak with the raw HTTP client",
			args:     []string{"--soak", "1s", "--soak-interval", "300ms", "--http-client", "raw"},
			wantText: []string{"| t ", "RSS: first sample", "whole soak:", " 0 errors"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), append(common, tt.args...), &stdout, &stderr)
			out := stdout.String()
			require.Equal(t, 0, code, "stderr:\n%s\nstdout:\n%s", stderr.String(), out)
			for _, name := range tt.wantRows {
				cells := row(t, out, name)
				require.Positive(t, number(t, cells[1]), "%s req/s", name)
				require.Equal(t, "0", cells[5], "%s errors", name)
				require.NotEqual(t, "n/a", cells[6], "%s CPU per request", name)
				require.NotEqual(t, "n/a", cells[8], "%s RSS", name)
			}
			for _, s := range tt.wantText {
				require.Contains(t, out, s)
			}
			for _, s := range tt.wantNot {
				require.NotContains(t, out, s)
			}
			if tt.check != nil {
				tt.check(t, out)
			}
			require.Empty(t, children(t), "every child process is stopped")
		})
	}
}

// TestTargetMode loads an authbridge that the bench did not start, as someone would load a running setup.
func TestTargetMode(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: TestEndToEnd covers the load paths")
	}
	bin := needSetup(t)
	o := &options{setup: setupOptions{authbridgeBin: bin, redisBin: "redis-server", sessions: 2}}
	sys, err := prepare(t.Context(), o, io.Discard)
	require.NoError(t, err)
	defer sys.close()
	in := sys.instances[0]
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"--target-http", in.httpURL, "--target-grpc", in.grpcAddr,
		"--cookie", in.cookies[0], "--cookie", in.cookies[1], "--server-pid", strconv.Itoa(in.pid),
		"--compare", "--concurrency", "2", "--duration", "500ms", "--rounds", "1", "--warmup", "0s"}, &stdout, &stderr)
	out := stdout.String()
	require.Equal(t, 0, code, "stderr:\n%s\nstdout:\n%s", stderr.String(), out)
	for _, name := range []string{rowAuth, rowCheck, rowHTTPRedis, rowExtAuthzGet} {
		cells := row(t, out, name)
		require.Positive(t, number(t, cells[1]), "%s req/s", name)
		require.Equal(t, "0", cells[5], "%s errors", name)
	}
	require.NotEqual(t, "n/a", row(t, out, rowAuth)[6], "CPU of the named pid")
	require.Equal(t, "n/a", row(t, out, rowAuth)[7], "no --redis-pid, no Redis CPU")
	require.Contains(t, out, rowAuth+" req/s ÷ "+rowHTTPRedis, "without a cache-off instance the targeted one is compared")
	require.NotContains(t, out, labelNoCache)
}

// cancelOn cancels when a line containing marker is written.
type cancelOn struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	marker string
	cancel context.CancelFunc
}

func (c *cancelOn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Write(p)
	if strings.Contains(c.buf.String(), c.marker) {
		c.cancel()
	}
	return len(p), nil
}

func TestInterruptStopsEveryChild(t *testing.T) {
	bin := needSetup(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stderr := &cancelOn{marker: "round 1", cancel: cancel} // Ctrl-C in the middle of the load
	start := time.Now()
	code := run(ctx, []string{"--authbridge-bin", bin, "--compare", "--concurrency", "2", "--sessions", "2",
		"--duration", "1m"}, &bytes.Buffer{}, stderr)
	require.Equal(t, 1, code)
	require.Less(t, time.Since(start), 30*time.Second, "an interrupt does not wait for the run to end")
	require.Empty(t, children(t), "every child process is stopped")
}

func TestHistogramQuantiles(t *testing.T) {
	tests := []struct {
		name   string
		values []time.Duration
		q      float64
		want   time.Duration
	}{
		{name: "empty", q: 0.5, want: 0},
		{name: "small values are exact", values: []time.Duration{1, 2, 3, 4, 100}, q: 0.8, want: 4},
		{name: "max", values: []time.Duration{1, 2, 3, 4, 100}, q: 1, want: 100},
		{name: "p50 of a millisecond and a second", values: []time.Duration{time.Millisecond, time.Second}, q: 0.5, want: time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h histogram
			for _, v := range tt.values {
				h.record(v)
			}
			got := h.quantile(tt.q)
			require.InEpsilon(t, float64(max(tt.want, 1)), float64(max(got, 1)), 1.0/(1<<subBits), "got %s", got)
		})
	}
}

func TestHistogramBucketsCoverEveryValue(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 129, 255, 256, 1e6, 1e9, 1 << 62, ^uint64(0)} {
		i := bucketOf(v)
		require.Less(t, i, len(histogram{}.counts), "value %d", v)
		mid := bucketMid(i)
		require.InEpsilon(t, float64(max(v, 1)), float64(max(mid, 1)), 1.0/(1<<subBits), "value %d", v)
	}
}

func TestProcStats(t *testing.T) {
	cpu, err := cpuTime(os.Getpid())
	require.NoError(t, err)
	require.GreaterOrEqual(t, cpu, time.Duration(0))
	rss, err := rssBytes(os.Getpid())
	require.NoError(t, err)
	require.Greater(t, rss, uint64(1<<20))
	_, err = cpuTime(-1)
	require.Error(t, err)
}

func TestFlags(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{name: "help", args: []string{"--help"}, wantCode: 0},
		{name: "unknown flag", args: []string{"--nope"}, wantCode: 2, wantErr: "flag provided but not defined"},
		{name: "zero concurrency", args: []string{"--concurrency", "0"}, wantCode: 2, wantErr: "at least 1"},
		{name: "target without cookie", args: []string{"--target-http", "http://127.0.0.1:1"}, wantCode: 2, wantErr: "--cookie"},
		{name: "bad concurrency list", args: []string{"--connections", "16,x"}, wantCode: 2, wantErr: `"x" is not a positive integer`},
		{name: "bad env hides value", args: []string{"--env", "OTHER=s3cret"}, wantCode: 2, wantErr: `key "OTHER"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			require.Equal(t, tt.wantCode, run(t.Context(), tt.args, &stdout, &stderr))
			require.Contains(t, stderr.String(), tt.wantErr)
			require.NotContains(t, stderr.String(), "s3cret")
		})
	}
}
