// Package server is authbridge's one wiring: from the packages' own options it builds the engine, both
// fronts, the four listeners' servers, readiness and the background work, and drains them on shutdown.
// `authbridge serve` and `authbridge demo` both run through it, so neither can forget a part.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"

	"github.com/authbridge/authbridge/pkg/authz"
	"github.com/authbridge/authbridge/pkg/extauthz"
	"github.com/authbridge/authbridge/pkg/forwardauth"
	"github.com/authbridge/authbridge/pkg/login"
	"github.com/authbridge/authbridge/pkg/readiness"
	"github.com/authbridge/authbridge/pkg/recovery"
	"github.com/authbridge/authbridge/pkg/session"
)

// ErrInvalidOptions is wrapped by New when Options lack a required part.
var ErrInvalidOptions = errors.New("server: invalid options")

// DrainTimeout bounds how long in-flight checks may take to finish after shutdown starts.
const DrainTimeout = 15 * time.Second

// Options are everything authbridge needs to run, in the packages' own option types; config stays with
// cmd, which maps it onto these. To add a part (a tracer provider, more metrics), add a field here and
// hand it on in New, where every part is built; serve and the demo then fill it. Metrics need no new
// field: register them on Registry in New.
type Options struct {
	// Store keeps the sessions. If it has a Run(context.Context) error method (the memory store's
	// sweeper), Run runs it beside the servers. The caller closes it after Run returns.
	Store session.Store
	// Cache is the in-process session cache; a zero TTL turns it off.
	Cache session.CacheOptions
	// Login is the provider's configuration; New discovers it, retrying for DiscoveryTimeout.
	Login login.Config
	// Engine configures the decisions. New sets its Sessions, Provider and Metrics, and its Logger
	// when nil; every other field is the caller's.
	Engine authz.Options
	// Fronts configures both HTTP fronts (the browser-facing and the gateway-only listener).
	Fronts forwardauth.Options
	// AdminToken turns on the session admin API on the admin listener; empty leaves it off.
	AdminToken string
	// GRPC bounds the gRPC listener's connections; zero fields take the defaults.
	GRPC      GRPCLimits
	Listeners Listeners
	// Registry receives every metric and is served at /metrics; nil is NewRegistry().
	Registry *prometheus.Registry
	// Version labels authbridge_build_info (with the VCS revision and Go version the binary carries).
	Version string
	Logger  *slog.Logger // nil discards
}

// GRPCLimits bound what the gRPC listener's connections may hold. Envoy multiplexes its checks as
// streams over a few long-lived connections; a fleet of Envoys opens many. The defaults suit both.
type GRPCLimits struct {
	// MaxStreams bounds the streams open at once on one connection (each runs a goroutine), so that one
	// client cannot make the server run goroutines without bound. A client at the bound waits (grpc-go)
	// or opens another connection (Envoy); a stream beyond it is refused. Default 1024.
	MaxStreams uint32
	// IdleTimeout closes, with a GOAWAY, a connection that has had no stream for this long, as the
	// HTTP servers' IdleTimeout does, so that connections of gateways gone away do not pile up.
	// Default 2 minutes.
	IdleTimeout time.Duration
	// PingMinInterval is how often a client may send keep-alive pings, with or without a stream open;
	// a client that pings more often is sent a GOAWAY (too_many_pings). grpc-go's own default (5
	// minutes, and no ping without a stream) would cut off an Envoy with a connection_keepalive
	// interval below 5 minutes. Default 10 seconds, the shortest interval grpc-go clients may set.
	PingMinInterval time.Duration
}

func (l *GRPCLimits) fill() {
	if l.MaxStreams == 0 {
		l.MaxStreams = 1024
	}
	if l.IdleTimeout == 0 {
		l.IdleTimeout = 2 * time.Minute
	}
	if l.PingMinInterval == 0 {
		l.PingMinInterval = 10 * time.Second
	}
}

// grpcReadBuffer is each gRPC connection's read buffer, held for the connection's life. A check is a
// KiB or two, so 8 KiB still takes several in one read, where grpc-go's default 32 KiB held 32 MiB
// for 1,024 connections.
const grpcReadBuffer = 8 << 10

// serverOptions are the gRPC server's connection settings.
func (l GRPCLimits) serverOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(1 << 20),
		grpc.ReadBufferSize(grpcReadBuffer),
		// The write buffer goes back to a pool after each flush instead of staying with its connection
		// (another 32 KiB each): most connections are idle between checks most of the time.
		grpc.SharedWriteBuffer(true),
		grpc.MaxConcurrentStreams(l.MaxStreams),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: l.IdleTimeout}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: l.PingMinInterval, PermitWithoutStream: true}),
	}
}

// Listeners are the four listeners, opened by the caller (all required). Run closes them; if New fails
// they stay the caller's to close.
type Listeners struct {
	HTTP        net.Listener // browser-facing: /oauth2/*
	ForwardAuth net.Listener // gateway-only: /auth, /oauth2/auth
	GRPC        net.Listener // Envoy ext_authz and gRPC health
	Admin       net.Listener // /metrics, /healthz, /readyz, /admin/sessions
}

// DiscoveryTimeout is how long New keeps trying to reach a provider that does not answer yet, so that a
// pod starting before its network (or during a short provider outage) does not crash-loop.
const DiscoveryTimeout = time.Minute

// Server is authbridge, built and ready to serve.
type Server struct {
	o        Options // with defaults filled
	log      *slog.Logger
	sessions *session.Sessions
	ready    *readiness.Probe
	grpc     *grpc.Server
	browser  *http.Server // Listeners.HTTP
	gateway  *http.Server // Listeners.ForwardAuth
	admin    *http.Server // Listeners.Admin
	// flushTraces sends the spans still buffered, once the servers have stopped.
	flushTraces func()
}

// New discovers the provider and builds every part; nothing listens to requests before Run.
func New(ctx context.Context, o Options) (_ *Server, err error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.GRPC.fill()
	flush, err := setupTracing(ctx, &o) // first: discovery at start-up is traced too
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			flush()
		}
	}()
	if o.Registry == nil {
		o.Registry = NewRegistry()
	}
	registerBuildInfo(o.Registry, o.Version)
	if o.Login.Metrics == nil {
		o.Login.Metrics = login.NewMetrics(o.Registry)
	}
	s := &Server{o: o, log: o.Logger, sessions: session.NewSessions(o.Store), flushTraces: flush}
	s.sessions.EnableMetrics(o.Registry)
	if o.Cache.TTL > 0 {
		s.sessions.EnableCache(o.Cache)
	}
	if o.Login.Logger == nil {
		o.Login.Logger = o.Logger
	}
	provider, err := discover(ctx, o.Login, o.Logger)
	if err != nil {
		return nil, err
	}
	eo := o.Engine
	eo.Sessions, eo.Provider, eo.Metrics = s.sessions, provider, authz.NewMetrics(o.Registry)
	if eo.Logger == nil {
		eo.Logger = o.Logger
	}
	engine, err := authz.New(eo)
	if err != nil {
		return nil, err
	}

	// A panic in any request path is answered fail-closed (503, in band for Check), logged and counted.
	rec := recovery.New(o.Registry, o.Logger)
	healthSrv := health.NewServer()
	s.grpc = grpc.NewServer(append(o.GRPC.serverOptions(),
		grpc.ChainUnaryInterceptor(rec.Unary("grpc", extauthz.Fallback)), grpc.ChainStreamInterceptor(rec.Stream("grpc")))...)
	authv3.RegisterAuthorizationServer(s.grpc, extauthz.New(engine, o.Logger))
	healthpb.RegisterHealthServer(s.grpc, healthSrv)
	// Readiness (/readyz and gRPC health alike) follows the session store; the provider is only reported.
	s.ready = readiness.New(readiness.Options{
		Store: o.Store, Provider: provider, Health: healthSrv, Registry: o.Registry, Logger: o.Logger,
		Services: []string{"", authv3.Authorization_ServiceDesc.ServiceName},
	})
	fronts := o.Fronts
	if fronts.Logger == nil {
		fronts.Logger = o.Logger
	}
	s.browser = NewHTTPServer(rec.HTTP("http", forwardauth.NewBrowser(engine, fronts)), o.Logger)
	s.gateway = NewHTTPServer(rec.HTTP("forward_auth", forwardauth.NewGateway(engine, fronts)), o.Logger)
	s.admin = s.adminServer(rec)
	return s, nil
}

func (o *Options) check() error {
	var errs []error
	if o.Store == nil {
		errs = append(errs, fmt.Errorf("%w: no session store", ErrInvalidOptions))
	}
	l := o.Listeners
	for _, ln := range []struct {
		name string
		ln   net.Listener
	}{{"http", l.HTTP}, {"forward_auth", l.ForwardAuth}, {"grpc", l.GRPC}, {"admin", l.Admin}} {
		if ln.ln == nil {
			errs = append(errs, fmt.Errorf("%w: no %s listener", ErrInvalidOptions, ln.name))
		}
	}
	return errors.Join(errs...)
}

// Run serves until ctx is done, then drains: readiness turns NOT_SERVING, in-flight checks get up to
// DrainTimeout to finish, and the listeners close. It runs the background work beside the servers:
// the session cache's invalidation, the readiness probes and the store's own Run, if it has one.
func (s *Server) Run(ctx context.Context) error {
	defer s.flushTraces()
	s.ready.Check(ctx)
	ls := s.o.Listeners
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return serveErr(s.grpc.Serve(ls.GRPC)) })
	g.Go(func() error { return serveErr(s.browser.Serve(ls.HTTP)) })
	g.Go(func() error { return serveErr(s.gateway.Serve(ls.ForwardAuth)) })
	g.Go(func() error { return serveErr(s.admin.Serve(ls.Admin)) })
	g.Go(func() error { return s.sessions.Run(gctx) })
	g.Go(func() error { return s.ready.Run(gctx) })
	if r, ok := s.o.Store.(interface{ Run(context.Context) error }); ok {
		g.Go(func() error { return r.Run(gctx) }) // frees expired sessions, markers and leases nobody reads again
	}
	g.Go(func() error {
		<-gctx.Done()
		return s.drain()
	})
	s.log.Info("authbridge serving", "http", ls.HTTP.Addr().String(), "forward_auth", ls.ForwardAuth.Addr().String(),
		"grpc", ls.GRPC.Addr().String(), "admin", ls.Admin.Addr().String(), "issuer", s.o.Login.IssuerURL)
	return g.Wait()
}

// drain stops the servers gracefully; the admin listener goes last, so /readyz says NOT_SERVING
// while the others drain.
func (s *Server) drain() error {
	s.log.Info("shutting down: draining in-flight checks")
	s.ready.Shutdown()
	dctx, cancel := context.WithTimeout(context.Background(), DrainTimeout)
	defer cancel()
	stopped := make(chan struct{})
	go func() { s.grpc.GracefulStop(); close(stopped) }()
	errs := []error{s.browser.Shutdown(dctx), s.gateway.Shutdown(dctx)}
	select {
	case <-stopped:
	case <-dctx.Done():
		s.grpc.Stop()
	}
	errs = append(errs, s.admin.Shutdown(dctx))
	return errors.Join(errs...)
}

// NewHTTPServer is an HTTP listener's server, with timeouts that bound slow clients.
func NewHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// serveErr treats the normal result of a shutdown as no error.
func serveErr(err error) error {
	if err == nil || errors.Is(err, http.ErrServerClosed) || errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return err
}

// discover reaches the provider, retrying for DiscoveryTimeout.
func discover(ctx context.Context, c login.Config, log *slog.Logger) (*login.Provider, error) {
	deadline := time.Now().Add(DiscoveryTimeout)
	for wait := 250 * time.Millisecond; ; wait = min(wait*2, 8*time.Second) {
		p, err := login.New(ctx, c, nil)
		if err == nil {
			return p, nil
		}
		if time.Now().After(deadline) {
			return nil, err
		}
		log.Warn("identity provider not reachable yet, retrying", "issuer", c.IssuerURL, "err", err, "retry_in", wait.String())
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(wait):
		}
	}
}
