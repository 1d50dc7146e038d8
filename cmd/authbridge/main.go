// Command authbridge is the auth middleware: an Envoy ext_authz gRPC server and a forward-auth /
// auth_request HTTP endpoint that keeps OIDC tokens server-side and gives browsers only a cookie.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"syscall"
	"time"

	"github.com/authbridge/authbridge/pkg/config"
	"github.com/authbridge/authbridge/pkg/server"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `authbridge keeps OIDC tokens at the edge: browsers hold an opaque cookie, upstreams get a bearer token.

Usage:
  authbridge demo         [--help]          try it: identity provider, authbridge, gateway and echo app on 127.0.0.1
  authbridge serve        [--config FILE]   run the gRPC (ext_authz), HTTP (forward-auth) and admin listeners
  authbridge check-config [--config FILE]   validate the configuration and exit (non-zero on problems),
                                            unreachable policy routes included
  authbridge explain      --config FILE --url URL [--method GET] [--route NAME] [--claims FILE]
                                            which policy route a request gets and why it is allowed or not;
                                            --claims is a JSON file of ID-token claims, --route the name a
                                            gateway passes
  authbridge convert oauth2-proxy [--config FILE] [--alpha-config FILE] [--env-file FILE]
                     [--acknowledge OPTION] [--redirect-url URL] [-o FILE] [-- oauth2-proxy flags]
                                            write an authbridge YAML from an oauth2-proxy configuration
                                            (file, OAUTH2_PROXY_* environment, flags); notes on stderr
  authbridge version                        print the version

Every config key can also be set by environment variable: AUTHBRIDGE_ + the key path in upper case,
e.g. oidc.client_id is AUTHBRIDGE_OIDC_CLIENT_ID. See README.md for the reference.
`

func main() {
	tuneGC()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// tuneGC trades a little memory for less garbage-collection work, unless the operator set GOGC or
// GOMEMLIMIT. authbridge's live heap is small (a few MiB) while every check allocates a few KiB, so with
// the default GOGC=100 the collector runs very often; measured with authbridge-bench, GC was the largest
// single cost on the hot path. GOGC=400 under a soft memory limit collects about four times less often
// and still keeps the process well under 40 MiB of RSS at a gateway's usual few connections (the limit
// makes the collector work harder as memory approaches it, instead of letting the heap grow).
//
// The limit follows the live memory (followLiveHeap): a fixed 24 MiB one was below what 1,024 gateway
// connections hold alive (their goroutines and buffers, about 60 MiB), and the collector then ran all
// the time, which took half the CPU, put p99 at 7× the no-op server's and timed out Redis reads (503). Above
// the floor it leaves the heap room to grow to three times what is alive.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(gcLimitFloor)
		go followLiveHeap(context.Background(), time.Second)
	}
}

// gcLimitFloor is the soft memory limit while little memory is alive.
const gcLimitFloor = 24 << 20

// memoryLimit is the soft limit for a process with live bytes of live heap and other bytes of memory
// outside the heap (goroutine stacks, the runtime's own): the floor, or room for the heap to grow to
// three times what is alive (as GOGC=200 would) once that is more. Far above what is alive, so that the
// collector never runs without pause trying to get under it.
func memoryLimit(live, other uint64) int64 {
	return int64(max(gcLimitFloor, 3*live+other))
}

// Memory classes read for the limit; other is what the runtime holds outside the heap's objects.
var gcSamples = []metrics.Sample{
	{Name: "/gc/heap/live:bytes"}, {Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"},
	{Name: "/memory/classes/heap/free:bytes"}, {Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"},
}

// followLiveHeap sets the soft memory limit from the live heap and the memory outside it every
// interval, until ctx is done.
func followLiveHeap(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		metrics.Read(gcSamples)
		v := make([]uint64, len(gcSamples))
		for i, s := range gcSamples {
			if s.Value.Kind() == metrics.KindUint64 {
				v[i] = s.Value.Uint64()
			}
		}
		live, total, outside := v[0], v[1], v[2]+v[3]+v[4]+v[5]
		debug.SetMemoryLimit(memoryLimit(live, total-min(total, outside)))
	}
}

// runMain runs one subcommand and returns the process exit code.
func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "version", "--version":
		fmt.Fprintln(stdout, versionLine())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	case "demo":
		return runDemo(ctx, args, stdout, stderr)
	case "explain":
		return runExplain(args, stdout, stderr)
	case "convert":
		return runConvert(args, stdout, stderr)
	case "serve", "check-config":
	default:
		fmt.Fprintf(stderr, "authbridge: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	fs := newFlagSet(cmd, stdout, stderr)
	path := fs.String("config", os.Getenv("AUTHBRIDGE_CONFIG"), "YAML config file (or env AUTHBRIDGE_CONFIG)")
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	cfg, err := config.Load(*path, environ())
	if err != nil {
		fmt.Fprintf(stderr, "authbridge: invalid configuration:\n%s\n", indent(err))
		return 1
	}
	_, policyWarnings, err := checkPolicy(cfg.Policy)
	if err != nil {
		fmt.Fprintf(stderr, "authbridge: invalid configuration:\n%s\n", indent(err))
		return 1
	}
	if cmd == "check-config" {
		for _, w := range append(cfg.Warnings(), policyWarnings...) {
			fmt.Fprintf(stderr, "authbridge: warning: %s\n", w)
		}
		fmt.Fprintf(stdout, "configuration OK: issuer %s, client %s, store %s, listeners http %s forward_auth %s grpc %s admin %s, %d policy routes\n",
			cfg.OIDC.IssuerURL, cfg.OIDC.ClientID, cfg.Session.Store, cfg.Listen.HTTP, cfg.Listen.ForwardAuth, cfg.Listen.GRPC, cfg.Listen.Admin,
			len(cfg.Policy.Routes))
		if len(cfg.IgnoredEnv) > 0 {
			fmt.Fprintf(stdout, "ignored %d Kubernetes service link variables: %s\n", len(cfg.IgnoredEnv), strings.Join(cfg.IgnoredEnv, ", "))
		}
		return 0
	}
	log := newLogger(stderr, cfg.Log)
	if len(cfg.IgnoredEnv) > 0 {
		log.Debug("ignored Kubernetes service link variables", "names", cfg.IgnoredEnv)
	}
	for _, w := range append(cfg.Warnings(), policyWarnings...) {
		log.Warn(w)
	}
	if err := serve(ctx, cfg, server.Listeners{}, log); err != nil {
		log.Error("authbridge stopped", "err", err)
		return 1
	}
	return 0
}

// environ is the process environment minus AUTHBRIDGE_CONFIG, which names the file rather than a key.
func environ() []string {
	env := os.Environ()
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "AUTHBRIDGE_CONFIG=") {
			out = append(out, kv)
		}
	}
	return out
}

// indent prints each joined error on its own line.
func indent(err error) string {
	var lines []string
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		for _, e := range joined.Unwrap() {
			lines = append(lines, "  - "+e.Error())
		}
	} else {
		lines = append(lines, "  - "+err.Error())
	}
	return strings.Join(lines, "\n")
}

func newLogger(w io.Writer, c config.Log) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
