package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/authbridge/authbridge/pkg/demo"
)

const demoUsage = `Usage: authbridge demo [flags]

Runs the whole story on this machine, nothing else needed: an Auth0-like identity provider, authbridge
(in-memory sessions), a gateway that asks authbridge about every request, and an echo app behind it.
Open the printed URL, log in as alice or bob, and see the app receive Authorization: Bearer <jwt>
while your browser holds only an opaque HttpOnly cookie. authbridge runs as serve runs it; the banner
names its admin listener (/metrics, /healthz, /readyz). Everything listens on 127.0.0.1 only.
Ctrl-C stops it.

Flags:
`

// runDemo parses the demo's flags and runs it until ctx is done.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // usage and errors are printed below, to the right stream
	gw := fs.String("gateway", demo.GatewayGRPC,
		"how the gateway asks authbridge: grpc (Envoy's ext_authz over gRPC) or http (Traefik's forward-auth /auth)")
	port := fs.Int("port", 8080, "gateway port on 127.0.0.1; 0, or a port already in use, picks a free one")
	ttl := fs.Duration("token-ttl", demo.DefaultTokenTTL,
		"access-token lifetime at the identity provider; short, so that the refresh is visible (min 1s)")
	redisURL := fs.String("redis-url", "", "keep sessions in Redis, e.g. redis://127.0.0.1:6379/0, instead of in memory")
	logLevel := fs.String("log-level", "info", "log detail on stderr: debug (every decision), info, warn or error")
	usage := func(w io.Writer) {
		fmt.Fprint(w, demoUsage)
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return 0
		}
		fmt.Fprintf(stderr, "authbridge demo: %v\n\n", err)
		usage(stderr)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "authbridge demo: unexpected argument %q\n\n", fs.Arg(0))
		usage(stderr)
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "authbridge demo: invalid -log-level %q\n", *logLevel)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	err := demo.Run(ctx, demo.Options{
		Gateway: *gw, Port: *port, TokenTTL: *ttl, RedisURL: *redisURL, Out: stdout, Logger: log, Version: version,
	})
	if errors.Is(err, demo.ErrInvalidOptions) {
		fmt.Fprintf(stderr, "authbridge demo:\n%s\n", indent(err))
		return 2
	}
	if err != nil {
		log.Error("demo stopped", "err", err)
		return 1
	}
	return 0
}
