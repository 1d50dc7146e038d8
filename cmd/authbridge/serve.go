package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/authbridge/authbridge/pkg/authz"
	"github.com/authbridge/authbridge/pkg/config"
	"github.com/authbridge/authbridge/pkg/extauthz"
	"github.com/authbridge/authbridge/pkg/forwardauth"
	"github.com/authbridge/authbridge/pkg/login"
	"github.com/authbridge/authbridge/pkg/readiness"
	"github.com/authbridge/authbridge/pkg/recovery"
	"github.com/authbridge/authbridge/pkg/session"
	"github.com/authbridge/authbridge/pkg/sessionadmin"
)

// listeners lets tests hand serve ready listeners; a nil one is opened from the config.
type listeners struct {
	http, forwardAuth, grpc, admin net.Listener
}

// drainTimeout bounds how long in-flight checks may take to finish after SIGTERM.
const drainTimeout = 15 * time.Second

// serve runs authbridge until ctx is done, then drains and stops all four servers.
func serve(ctx context.Context, cfg *config.Config, ls listeners, log *slog.Logger) error {
	store, closeStore, err := newStore(cfg.Session, log)
	if err != nil {
		return err
	}
	defer closeStore()
	provider, err := discover(ctx, cfg.OIDC, log)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	sessions := session.NewSessions(store)
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "authbridge_session_records_unreadable_total",
		Help: "Session records found in the store that could not be opened or decoded (read as logged out).",
	}, func() float64 { return float64(sessions.Unreadable()) }))
	if cfg.Session.CacheTTL > 0 {
		sessions.EnableCache(session.CacheOptions{TTL: cfg.Session.CacheTTL, Idle: cfg.Session.IdleTimeout, Max: cfg.Session.MaxLifetime})
	}
	verifier, err := newVerifier(cfg, log)
	if err != nil {
		return err
	}
	var bearerTokens authz.BearerVerifier // a nil *bearer.Verifier in the interface would not be nil
	if verifier != nil {
		bearerTokens = verifier
	}
	engine, err := authz.New(authz.Options{
		Sessions: sessions,
		Provider: provider,
		Cookie:   authz.CookieOptions{Name: cfg.Session.Cookie.Name, Domain: cfg.Session.Cookie.Domain, Secure: cfg.Session.Cookie.Secure},
		Lifetimes: authz.Lifetimes{
			Idle: cfg.Session.IdleTimeout, Max: cfg.Session.MaxLifetime,
			RefreshAhead: cfg.Session.RefreshAhead, Login: cfg.Session.LoginTimeout,
		},
		Refresh:   authz.RefreshOptions{Wait: cfg.Session.RefreshWait, ReuseWindow: cfg.Session.RefreshReuseWindow},
		Policy:    policyOf(cfg.Policy),
		Redirects: authz.Domains(cfg.RedirectDomains()),
		LoginKeys: cfg.Session.Cookie.Keys(), // none with the memory store: a random key, one process
		Bearer:    bearerTokens,              // nil unless bearer.audiences is set
		Metrics:   authz.NewMetrics(reg),
		Logger:    log,
	})
	if err != nil {
		return err
	}
	for _, l := range []struct {
		ln   *net.Listener
		addr string
	}{{&ls.http, cfg.Listen.HTTP}, {&ls.forwardAuth, cfg.Listen.ForwardAuth}, {&ls.grpc, cfg.Listen.GRPC}, {&ls.admin, cfg.Listen.Admin}} {
		if *l.ln == nil {
			if *l.ln, err = net.Listen("tcp", l.addr); err != nil {
				return fmt.Errorf("listen: %w", err)
			}
		}
	}

	// A panic in any request path is answered fail-closed (503, in band for Check), logged and counted.
	rec := recovery.New(reg, log)
	healthSrv := health.NewServer()
	grpcSrv := grpc.NewServer(grpc.MaxRecvMsgSize(1<<20),
		grpc.ChainUnaryInterceptor(rec.Unary("grpc", extauthz.Fallback)), grpc.ChainStreamInterceptor(rec.Stream("grpc")))
	authv3.RegisterAuthorizationServer(grpcSrv, extauthz.New(engine, log))
	healthpb.RegisterHealthServer(grpcSrv, healthSrv)
	// Readiness (/readyz and gRPC health alike) follows the session store; the provider is only reported.
	ready := readiness.New(readiness.Options{
		Store: store, Provider: provider, Health: healthSrv, Registry: reg, Logger: log,
		Services: []string{"", authv3.Authorization_ServiceDesc.ServiceName},
	})
	ready.Check(ctx)

	faOpts := forwardauth.Options{TrustedProxies: cfg.TrustedProxyPrefixes, Logger: log}
	httpSrv := newHTTPServer(rec.HTTP("http", forwardauth.NewBrowser(engine, faOpts)), log)
	forwardAuthSrv := newHTTPServer(rec.HTTP("forward_auth", forwardauth.NewGateway(engine, faOpts)), log)
	adminSrv := &http.Server{
		Handler:           rec.HTTP("admin", adminHandler(reg, ready, adminAPI(sessions, cfg.Admin, log))),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return serveErr(grpcSrv.Serve(ls.grpc)) })
	g.Go(func() error { return serveErr(httpSrv.Serve(ls.http)) })
	g.Go(func() error { return serveErr(forwardAuthSrv.Serve(ls.forwardAuth)) })
	g.Go(func() error { return serveErr(adminSrv.Serve(ls.admin)) })
	g.Go(func() error { return sessions.Run(gctx) })
	g.Go(func() error { return ready.Run(gctx) })
	if m, ok := store.(*session.MemoryStore); ok {
		g.Go(func() error { return m.Run(gctx) }) // frees expired sessions, markers and leases nobody reads again
	}
	g.Go(func() error {
		<-gctx.Done()
		log.Info("shutting down: draining in-flight checks")
		ready.Shutdown() // /readyz and gRPC health both say NOT_SERVING while draining
		dctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
		defer cancel()
		stopped := make(chan struct{})
		go func() { grpcSrv.GracefulStop(); close(stopped) }()
		errs := []error{httpSrv.Shutdown(dctx), forwardAuthSrv.Shutdown(dctx)}
		select {
		case <-stopped:
		case <-dctx.Done():
			grpcSrv.Stop()
		}
		errs = append(errs, adminSrv.Shutdown(dctx))
		return errors.Join(errs...)
	})
	log.Info("authbridge serving", "version", version, "http", ls.http.Addr().String(), "forward_auth", ls.forwardAuth.Addr().String(),
		"grpc", ls.grpc.Addr().String(), "admin", ls.admin.Addr().String(), "store", cfg.Session.Store,
		"issuer", cfg.OIDC.IssuerURL)
	return g.Wait()
}

// newHTTPServer is one of the two HTTP listeners' servers, with timeouts that bound slow clients.
func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
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

// redisLog routes go-redis's own messages (dial retries, pool trouble) into our structured log instead
// of its default stderr logger.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "redis client", "detail", fmt.Sprintf(format, v...))
}

func newStore(c config.Session, log *slog.Logger) (session.Store, func(), error) {
	if c.Store == "memory" {
		return session.NewMemoryStore(nil), func() {}, nil
	}
	client, err := session.NewRedisClient(session.RedisOptions{
		URL: c.Redis.URL, Addrs: c.Redis.Addrs, MasterName: c.Redis.MasterName, Password: c.Redis.Password.Reveal(),
		Timeout: c.Redis.Timeout,
	})
	if err != nil {
		return nil, nil, err
	}
	redis.SetLogger(redisLog{log})
	return session.NewRedisStore(client, ""), func() { _ = client.Close() }, nil
}

// discover reaches the provider at start-up, retrying for a while so that a provider that is briefly
// unreachable (or a pod that starts before its network) does not crash-loop authbridge.
func discover(ctx context.Context, c config.OIDC, log *slog.Logger) (*login.Provider, error) {
	cfg := login.Config{
		IssuerURL: c.IssuerURL, ClientID: c.ClientID, ClientSecret: c.ClientSecret.Reveal(),
		RedirectURL: c.RedirectURL, Scopes: c.Scopes, Audience: c.Audience, ExtraAuthParams: c.ExtraAuthParams,
		GroupsClaim: c.GroupsClaim, Logout: login.LogoutMode(c.Logout), Timeout: c.Timeout,
		AllowUnverifiedEmail: c.AllowUnverifiedEmail, Logger: log,
	}
	deadline := time.Now().Add(time.Minute)
	for wait := 250 * time.Millisecond; ; wait = min(wait*2, 8*time.Second) {
		p, err := login.New(ctx, cfg, nil)
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

// adminAPI is the session admin API, or nil when no admin token is configured.
func adminAPI(sessions *session.Sessions, c config.Admin, log *slog.Logger) http.Handler {
	if c.Token == "" {
		return nil
	}
	return sessionadmin.New(sessions, c.Token.Reveal(), log)
}

func adminHandler(reg *prometheus.Registry, ready http.Handler, api http.Handler) http.Handler {
	mux := http.NewServeMux()
	if api != nil {
		mux.Handle(sessionadmin.Path, api)
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.Handle("GET /readyz", ready)
	return mux
}
