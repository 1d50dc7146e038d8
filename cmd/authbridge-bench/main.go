// Command authbridge-bench is the load tool: it starts Redis, the development provider and the real
// authbridge binary on 127.0.0.1 (or targets a running setup), logs in to get real sessions, drives HTTP
// /auth and gRPC Check, and prints throughput, latency, errors, and the server's CPU per request and RSS.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

const usage = `authbridge-bench drives authbridge's HTTP /auth and gRPC Check with valid sessions and reports
req/s, p50/p99/p99.9 latency, errors, server CPU per request, Redis CPU per request and server RSS.

Usage:
  authbridge-bench [flags]                  start redis-server, the development provider and authbridge
                                            on 127.0.0.1, log in, and measure both fronts
  authbridge-bench --compare [flags]        also measure a second authbridge with the session cache off
                                            and the no-op reference servers, and print the ratios the
                                            performance targets are stated in
  authbridge-bench --connections 16,256,1024 [flags]
                                            both fronts and the no-op reference servers at each concurrency,
                                            HTTP over one connection per worker, gRPC over --grpc-conns
                                            shared connections and over one per worker: p99 against the
                                            no-op's, and authbridge's goroutines and RSS per connection
  authbridge-bench --soak 10m [flags]       sustained load on both fronts; RSS every --soak-interval
  authbridge-bench --redis-sessions 1000000 [flags]
                                            Redis alone: memory per session, and the time to end all
                                            --user-sessions of one user (sign-out everywhere, back-channel)
  authbridge-bench --target-http URL --target-grpc HOST:PORT --cookie NAME=VALUE [flags]
                                            load a running setup instead of starting one

Flags:
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// loadOptions shape the load itself.
type loadOptions struct {
	concurrency int
	duration    time.Duration
	warmup      time.Duration
	grpcConns   int
	rounds      int
	httpClient  string // transport (net/http) or raw
}

// setupOptions shape the local setup that the default mode starts.
type setupOptions struct {
	authbridgeBin string
	redisBin      string
	env           multiFlag // extra AUTHBRIDGE_* variables, e.g. to switch the session cache on
	sessions      int
	seed          int // sessions written straight into Redis besides the logged-in ones
}

// targetOptions point the tool at a running setup.
type targetOptions struct {
	http, grpc string
	cookies    multiFlag // NAME=VALUE, one per session
	serverPID  int
	redisPID   int
}

type options struct {
	load         loadOptions
	setup        setupOptions
	target       targetOptions
	compare      bool
	soak         time.Duration
	soakInterval time.Duration
	// connections are the concurrencies --connections measures; empty: not that mode.
	connections []int
	// redisSessions and userSessions shape --redis-sessions, which measures Redis alone.
	redisSessions, userSessions int
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// run runs one invocation and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && isRefCommand(args[0]) {
		if err := runRef(ctx, args[0], args[1:], stdout); err != nil {
			fmt.Fprintf(stderr, "authbridge-bench %s: %v\n", args[0], err)
			return 1
		}
		return 0
	}
	o, code := parseFlags(args, stdout, stderr)
	if code >= 0 {
		return code
	}
	var err error
	switch {
	case o.redisSessions > 0:
		err = runRedisSessions(ctx, o, stdout, stderr)
	case len(o.connections) > 0:
		err = runConnections(ctx, o, stdout, stderr)
	case o.soak > 0:
		err = runSoak(ctx, o, stdout, stderr)
	default:
		err = runBench(ctx, o, stdout, stderr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "authbridge-bench: %v\n", err)
		return 1
	}
	return 0
}

// parseFlags returns the options, or an exit code ≥ 0 when the process should stop here.
func parseFlags(args []string, stdout, stderr io.Writer) (*options, int) {
	o := &options{}
	fs := flag.NewFlagSet("authbridge-bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.IntVar(&o.load.concurrency, "concurrency", 16, "concurrent requests in flight per target (--soak: split over the two fronts)")
	fs.DurationVar(&o.load.duration, "duration", 10*time.Second, "measured time per target, over all rounds")
	fs.DurationVar(&o.load.warmup, "warmup", 2*time.Second, "unmeasured load before each target's measurement")
	fs.IntVar(&o.load.rounds, "rounds", 5, "rounds the measured time is split into; each round runs every target once")
	fs.StringVar(&o.load.httpClient, "http-client", "transport",
		"HTTP loader: transport (net/http, one keep-alive Transport) or raw (pre-serialized HTTP/1.1, lighter, like wrk)")
	fs.IntVar(&o.load.grpcConns, "grpc-conns", 2, "gRPC connections the Check load is spread over")
	fs.BoolVar(&o.compare, "compare", false, "also run authbridge with the session cache off and the reference servers, and print the ratios")
	fs.Func("connections", "instead of one concurrency, measure each of these (e.g. 16,256,1024) against the no-op servers",
		func(v string) (err error) { o.connections, err = parseInts(v); return err })
	fs.DurationVar(&o.soak, "soak", 0, "instead of a measurement, load both fronts for this long and sample RSS")
	fs.DurationVar(&o.soakInterval, "soak-interval", 10*time.Second, "RSS sampling interval of --soak")
	fs.IntVar(&o.setup.sessions, "sessions", 64, "sessions to log in and spread the load over")
	fs.IntVar(&o.setup.seed, "seed-sessions", 0,
		"distinct sessions to add beside --sessions, copies of a logged-in one written straight into Redis (e.g. 100000, to see RSS with the cache bounded)")
	fs.IntVar(&o.redisSessions, "redis-sessions", 0,
		"instead of a load, write this many sessions into a redis-server and report memory per session and the time to end --user-sessions of one user")
	fs.IntVar(&o.userSessions, "user-sessions", 1000, "sessions of the one user that --redis-sessions ends by subject and by sid")
	fs.StringVar(&o.setup.authbridgeBin, "authbridge-bin", "", "authbridge binary to run (default: go build ./cmd/authbridge)")
	fs.StringVar(&o.setup.redisBin, "redis-server", "redis-server", "redis-server binary")
	fs.Var(&o.setup.env, "env", "extra KEY=VALUE environment for authbridge, e.g. AUTHBRIDGE_LOG_LEVEL=error (repeatable)")
	fs.StringVar(&o.target.http, "target-http", "", "base URL of a running authbridge forward-auth listener, where /auth is (no local setup)")
	fs.StringVar(&o.target.grpc, "target-grpc", "", "host:port of a running authbridge gRPC listener (no local setup)")
	fs.Var(&o.target.cookies, "cookie", "session cookie NAME=VALUE for --target-* (repeatable)")
	fs.IntVar(&o.target.serverPID, "server-pid", 0, "pid of the targeted authbridge, for CPU and RSS (optional)")
	fs.IntVar(&o.target.redisPID, "redis-pid", 0, "pid of the targeted redis-server, for its CPU (optional)")
	printUsage := func(w io.Writer) {
		fmt.Fprint(w, usage)
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stdout)
			return nil, 0
		}
		fmt.Fprintf(stderr, "authbridge-bench: %v\n\n", err)
		printUsage(stderr)
		return nil, 2
	}
	if err := o.validate(fs.NArg()); err != nil {
		fmt.Fprintf(stderr, "authbridge-bench: %v\n", err)
		return nil, 2
	}
	return o, -1
}

func (o *options) validate(extraArgs int) error {
	var errs []error
	if extraArgs > 0 {
		errs = append(errs, errors.New("unexpected arguments"))
	}
	if o.load.concurrency < 1 || o.load.grpcConns < 1 || o.setup.sessions < 1 || o.load.rounds < 1 {
		errs = append(errs, errors.New("--concurrency, --grpc-conns, --sessions and --rounds must be at least 1"))
	}
	if o.redisSessions < 0 || o.userSessions < 1 {
		errs = append(errs, errors.New("--redis-sessions must not be negative, --user-sessions at least 1"))
	}
	if o.setup.seed < 0 || (o.setup.seed > 0 && (o.target.http != "" || o.target.grpc != "")) {
		errs = append(errs, errors.New("--seed-sessions must not be negative, and needs the local setup (no --target-*)"))
	}
	if o.load.duration < time.Duration(o.load.rounds)*time.Millisecond || o.load.warmup < 0 || o.soakInterval <= 0 {
		errs = append(errs, errors.New("--duration must be at least a millisecond per round, --soak-interval positive, --warmup not negative"))
	}
	if o.load.httpClient != "transport" && o.load.httpClient != "raw" {
		errs = append(errs, errors.New("--http-client is transport or raw"))
	}
	targeted := o.target.http != "" || o.target.grpc != ""
	if targeted && len(o.target.cookies) == 0 {
		errs = append(errs, errors.New("--target-http/--target-grpc need at least one --cookie NAME=VALUE"))
	}
	for _, c := range o.target.cookies {
		if name, _, ok := strings.Cut(c, "="); !ok || name == "" {
			errs = append(errs, errors.New("--cookie wants NAME=VALUE"))
		}
	}
	for _, kv := range o.setup.env {
		// OTEL_* too: the tracing figures in docs/performance.md are measured with the SDK's own variables.
		if !(strings.HasPrefix(kv, "AUTHBRIDGE_") || strings.HasPrefix(kv, "OTEL_")) || !strings.Contains(kv, "=") {
			key, _, _ := strings.Cut(kv, "=") // the value may be a secret: not echoed
			errs = append(errs, fmt.Errorf("--env wants AUTHBRIDGE_KEY=VALUE or OTEL_KEY=VALUE, got key %q", key))
		}
	}
	return errors.Join(errs...)
}
