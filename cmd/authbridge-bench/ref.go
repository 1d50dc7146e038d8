package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/redis/go-redis/v9"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

// refKind is one reference server of the table, run as a child process by re-executing the
// bench binary with its hidden command.
type refKind struct {
	command string // hidden subcommand
	name    string // row name in the report
	grpc    bool   // ext_authz Check rather than HTTP
	redis   bool   // one GET of a refValueSize value per request
}

// Row names of the report; the ratios and the test find rows by them.
const (
	rowAuth        = "authbridge /auth"
	rowCheck       = "authbridge Check"
	rowHTTPNoop    = "net/http no-op"
	rowHTTPRedis   = "net/http + Redis GET"
	rowExtAuthz    = "ext_authz no-op"
	rowExtAuthzGet = "ext_authz + Redis GET"
)

var refKinds = []refKind{
	{command: "ref-http-noop", name: rowHTTPNoop},
	{command: "ref-http-redis", name: rowHTTPRedis, redis: true},
	{command: "ref-grpc-noop", name: rowExtAuthz, grpc: true},
	{command: "ref-grpc-redis", name: rowExtAuthzGet, grpc: true, redis: true},
}

const (
	refKey       = "authbridge-bench:ref"
	refValueSize = 1 << 10
)

func isRefCommand(cmd string) bool {
	for _, k := range refKinds {
		if k.command == cmd {
			return true
		}
	}
	return false
}

// runRef serves one reference server on a free 127.0.0.1 port until ctx is done. It prints
// "listening HOST:PORT" on stdout once it accepts connections.
func runRef(ctx context.Context, cmd string, args []string, stdout io.Writer) error {
	var k refKind
	for _, rk := range refKinds {
		if rk.command == cmd {
			k = rk
		}
	}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	redisURL := fs.String("redis", "", "redis:// URL holding the value to GET")
	if err := fs.Parse(args); err != nil {
		return err
	}
	get := func(context.Context) error { return nil }
	if k.redis {
		opt, err := redis.ParseURL(*redisURL)
		if err != nil {
			return fmt.Errorf("parse --redis: %w", err)
		}
		rdb := redis.NewClient(opt)
		defer rdb.Close()
		if err := rdb.Set(ctx, refKey, bytes.Repeat([]byte("v"), refValueSize), 0).Err(); err != nil {
			return fmt.Errorf("store the reference value: %w", err)
		}
		get = func(ctx context.Context) error { return rdb.Get(ctx, refKey).Err() }
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	fmt.Fprintf(stdout, "listening %s\n", ln.Addr())
	if k.grpc {
		srv := grpc.NewServer()
		authv3.RegisterAuthorizationServer(srv, refCheck{get: get})
		go func() { <-ctx.Done(); srv.GracefulStop() }()
		return srv.Serve(ln)
	}
	srv := &http.Server{Handler: refHandler(get), ReadHeaderTimeout: 5 * time.Second}
	go func() { <-ctx.Done(); _ = srv.Shutdown(context.Background()) }()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// refHandler answers 200 with one header, after get.
func refHandler(get func(context.Context) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := get(r.Context()); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Authorization", "Bearer reference")
		w.WriteHeader(http.StatusOK)
	}
}

// refCheck allows every Check with one upstream header, after get.
type refCheck struct {
	authv3.UnimplementedAuthorizationServer
	get func(context.Context) error
}

func (s refCheck) Check(ctx context.Context, _ *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	if err := s.get(ctx); err != nil {
		return &authv3.CheckResponse{Status: &rpcstatus.Status{Code: int32(codes.Unavailable)}}, nil
	}
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
			Headers: []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "authorization", Value: "Bearer reference"}}},
		}},
	}, nil
}
