package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/redis/go-redis/v9"

	"github.com/authbridge/authbridge/pkg/authz"
	"github.com/authbridge/authbridge/pkg/config"
	"github.com/authbridge/authbridge/pkg/forwardauth"
	"github.com/authbridge/authbridge/pkg/login"
	"github.com/authbridge/authbridge/pkg/server"
	"github.com/authbridge/authbridge/pkg/session"
)

// serve runs authbridge until ctx is done, then drains and stops all four servers. Listeners in ls that
// are nil are opened at the configured addresses; tests hand in their own, and may adjust the options
// (say, a faster sweep) with tune.
func serve(ctx context.Context, cfg *config.Config, ls server.Listeners, log *slog.Logger, tune ...func(*server.Options)) error {
	o, closeStore, err := serveOptions(cfg, ls, log)
	if err != nil {
		return err
	}
	defer closeStore()
	for _, f := range tune {
		f(&o)
	}
	srv, err := server.New(ctx, o)
	if err != nil {
		return err
	}
	log.Info("authbridge starting", "version", version, "store", cfg.Session.Store)
	return srv.Run(ctx)
}

// serveOptions maps the configuration onto the wiring's options; closeStore closes the Redis client.
func serveOptions(cfg *config.Config, ls server.Listeners, log *slog.Logger) (o server.Options, closeStore func(), err error) {
	reg := server.NewRegistry()
	providerMetrics := login.NewMetrics(reg) // shared by the login provider and the bearer verifier
	verifier, err := newVerifier(cfg, providerMetrics, log)
	if err != nil {
		return o, nil, err
	}
	var bearerTokens authz.BearerVerifier // a nil *bearer.Verifier in the interface would not be nil
	if verifier != nil {
		bearerTokens = verifier
	}
	if err := openListeners(&ls, cfg.Listen); err != nil {
		return o, nil, err
	}
	store, closeStore, err := newStore(cfg.Session, log)
	if err != nil {
		return o, nil, err
	}
	s, c := cfg.Session, cfg.OIDC
	return server.Options{
		Store: store,
		Cache: session.CacheOptions{TTL: s.CacheTTL, Idle: s.IdleTimeout, Max: s.MaxLifetime},
		Login: login.Config{
			IssuerURL: c.IssuerURL, ClientID: c.ClientID, ClientSecret: c.ClientSecret.Reveal(),
			RedirectURL: c.RedirectURL, Scopes: c.Scopes, Audience: c.Audience, ExtraAuthParams: c.ExtraAuthParams,
			GroupsClaim: c.GroupsClaim, Logout: login.LogoutMode(c.Logout), Timeout: c.Timeout,
			RootCAs: c.RootCAs, AllowUnverifiedEmail: c.AllowUnverifiedEmail, Metrics: providerMetrics,
		},
		Engine: authz.Options{
			Cookie: authz.CookieOptions{Name: s.Cookie.Name, Domain: s.Cookie.Domain, Secure: s.Cookie.Secure},
			Lifetimes: authz.Lifetimes{
				Idle: s.IdleTimeout, Max: s.MaxLifetime, RefreshAhead: s.RefreshAhead, Login: s.LoginTimeout,
			},
			Refresh:   authz.RefreshOptions{Wait: s.RefreshWait, ReuseWindow: s.RefreshReuseWindow},
			Policy:    policyOf(cfg.Policy),
			Redirects: authz.Domains(cfg.RedirectDomains()),
			LoginKeys: s.Cookie.Keys(), // none with the memory store: a random key, one process
			Bearer:    bearerTokens,    // nil unless bearer.audiences is set
		},
		Fronts:     forwardauth.Options{TrustedProxies: cfg.TrustedProxyPrefixes},
		AdminToken: cfg.Admin.Token.Reveal(),
		Listeners:  ls,
		Registry:   reg,
		Version:    version,
		Logger:     log,
	}, closeStore, nil
}

// openListeners opens each listener that ls does not already hold at its configured address.
func openListeners(ls *server.Listeners, c config.Listen) error {
	for _, l := range []struct {
		ln   *net.Listener
		addr string
	}{{&ls.HTTP, c.HTTP}, {&ls.ForwardAuth, c.ForwardAuth}, {&ls.GRPC, c.GRPC}, {&ls.Admin, c.Admin}} {
		if *l.ln != nil {
			continue
		}
		var err error
		if *l.ln, err = net.Listen("tcp", l.addr); err != nil {
			return fmt.Errorf("listen: %w", err)
		}
	}
	return nil
}

// redisLog routes go-redis's own messages (dial retries, pool trouble) into our structured log instead
// of its default stderr logger.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "redis client", "detail", fmt.Sprintf(format, v...))
}

// newStore is the configured session store. The memory store's sweeper is run by server.Run.
func newStore(c config.Session, log *slog.Logger) (session.Store, func(), error) {
	if c.Store == "memory" {
		return session.NewMemoryStore(nil), func() {}, nil
	}
	client, err := session.NewRedisClient(session.RedisOptions{
		URL: c.Redis.URL, Addrs: c.Redis.Addrs, MasterName: c.Redis.MasterName, Password: c.Redis.Password.Reveal(),
		Timeout: c.Redis.Timeout, TLSConfig: c.Redis.TLS.Config,
	})
	if err != nil {
		return nil, nil, err
	}
	redis.SetLogger(redisLog{log})
	return session.NewRedisStore(client, ""), func() { _ = client.Close() }, nil
}
