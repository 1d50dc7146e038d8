// Package demo runs the whole authbridge story in one process on 127.0.0.1: an Auth0-like identity
// provider, authbridge with both fronts, a gateway that consults it, and an upstream that shows what it
// received.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"time"

	"github.com/authbridge/authbridge/pkg/authz"
	"github.com/authbridge/authbridge/pkg/devidp"
	"github.com/authbridge/authbridge/pkg/forwardauth"
	"github.com/authbridge/authbridge/pkg/login"
	"github.com/authbridge/authbridge/pkg/server"
	"github.com/authbridge/authbridge/pkg/session"
)

// ErrInvalidOptions is wrapped by Run when Options cannot describe a demo.
var ErrInvalidOptions = errors.New("demo: invalid options")

// Gateway modes: how the demo's gateway asks authbridge about each request.
const (
	GatewayGRPC = "grpc" // like Envoy: ext_authz Check over gRPC
	GatewayHTTP = "http" // like Traefik: forward-auth GET /auth
)

// Demo settings.
const (
	// DefaultTokenTTL is the access-token lifetime: short, so that a person sees the refresh.
	DefaultTokenTTL = 2 * time.Minute
	// CookieName is the session cookie's name. The demo serves plain http://127.0.0.1, where the
	// default __Host-authbridge cannot work: the __Host- prefix requires Secure, and a Secure cookie
	// set over http is dropped by Firefox, Safari, curl and Go's cookie jar. So the demo, and only
	// the demo, uses a plain name without Secure.
	CookieName = "authbridge"
	clientID   = "authbridge-demo"
	audience   = "https://api.authbridge-demo.example"
	stopGrace  = 5 * time.Second
)

// Options configure a demo. The zero Options is a working demo on a free port.
type Options struct {
	Gateway      string        // GatewayGRPC (default) or GatewayHTTP
	Port         int           // gateway port on 127.0.0.1; 0, or a busy port, picks a free one
	TokenTTL     time.Duration // access-token lifetime, at least 1s; default DefaultTokenTTL
	RefreshAhead time.Duration // refresh this long before expiry; default TokenTTL/4, at most 30s
	RedisURL     string        // keep sessions in Redis at this URL; default in memory
	Out          io.Writer     // receives the banner with the URLs; default discards
	Logger       *slog.Logger  // default discards
	Version      string        // labels authbridge_build_info on the demo's /metrics; default "unknown"

	store session.Store // tests: used instead of a new store
}

// endpoints are where the demo's parts listen.
type endpoints struct {
	App       string // the gateway: what a person opens, with a trailing slash
	IdP       string // the identity provider's issuer, with a trailing slash
	GRPC      string // authbridge's ext_authz gRPC listener, host:port
	HTTP      string // authbridge's browser-facing HTTP listener (/oauth2/*), with a trailing slash
	Forward   string // authbridge's gateway-only forward-auth listener (/auth), with a trailing slash
	Admin     string // authbridge's admin listener (/metrics, /healthz, /readyz), with a trailing slash
	Upstream  string // the echo upstream, reached directly (no token), with a trailing slash
	PortBusy  bool   // Options.Port was taken, so App is on another port
	StoreDesc string // where sessions live, for people
}

// Run starts the demo, writes the banner to o.Out, and serves until ctx is done; then it stops every
// part and returns nil. An error means the demo could not start (wrapping ErrInvalidOptions when o is
// the cause) or a part failed.
func Run(ctx context.Context, o Options) error {
	s, err := start(ctx, o)
	if err != nil {
		return err
	}
	s.banner(s.o.Out)
	select {
	case <-ctx.Done():
		err = nil
	case err = <-s.errc:
	}
	return errors.Join(err, s.stop())
}

// stack is a running demo.
type stack struct {
	o      Options // normalized
	urls   endpoints
	idp    *devidp.IDP
	log    *slog.Logger
	secret string                        // the demo client's secret at the provider, new for every run
	errc   chan error                    // a server that stopped on its own
	stops  []func(context.Context) error // undo start, run in reverse order
}

func normalize(o *Options) error {
	if o.Gateway == "" {
		o.Gateway = GatewayGRPC
	}
	if o.TokenTTL == 0 {
		o.TokenTTL = DefaultTokenTTL
	}
	if o.RefreshAhead == 0 {
		o.RefreshAhead = min(o.TokenTTL/4, 30*time.Second)
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	var errs []error
	if o.Gateway != GatewayGRPC && o.Gateway != GatewayHTTP {
		errs = append(errs, fmt.Errorf("%w: gateway %q is not %q or %q", ErrInvalidOptions, o.Gateway, GatewayGRPC, GatewayHTTP))
	}
	if o.Port < 0 || o.Port > 65535 {
		errs = append(errs, fmt.Errorf("%w: port %d", ErrInvalidOptions, o.Port))
	}
	// The provider states lifetimes in whole seconds (expires_in).
	if o.TokenTTL < time.Second {
		errs = append(errs, fmt.Errorf("%w: token ttl %s is below 1s", ErrInvalidOptions, o.TokenTTL))
	}
	if o.RefreshAhead < 0 || o.RefreshAhead >= o.TokenTTL {
		errs = append(errs, fmt.Errorf("%w: refresh ahead %s must be below the token ttl %s", ErrInvalidOptions, o.RefreshAhead, o.TokenTTL))
	}
	return errors.Join(errs...)
}

// start brings every part up, in dependency order; on failure it stops what it started.
func start(ctx context.Context, o Options) (_ *stack, err error) {
	if err := normalize(&o); err != nil {
		return nil, err
	}
	s := &stack{o: o, log: o.Logger, secret: randomSecret(), errc: make(chan error, 8)}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.stop())
		}
	}()
	appLn, busy, err := listenGateway(o.Port)
	if err != nil {
		return nil, err
	}
	s.stops = append(s.stops, func(context.Context) error { return ignoreClosed(appLn.Close()) })
	var idpLn, upLn net.Listener
	var ls server.Listeners
	for _, ln := range []*net.Listener{&idpLn, &ls.GRPC, &ls.HTTP, &ls.ForwardAuth, &ls.Admin, &upLn} {
		if *ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return nil, fmt.Errorf("listen: %w", err)
		}
		l := *ln
		s.stops = append(s.stops, func(context.Context) error { return ignoreClosed(l.Close()) })
	}
	app := "http://" + appLn.Addr().String() + "/"
	s.urls = endpoints{
		App: app,
		// A different host name than the app's, as Auth0 is on another site: the browser keeps the
		// provider's cookies and authbridge's apart (cookies ignore ports).
		IdP:      fmt.Sprintf("http://localhost:%d/", idpLn.Addr().(*net.TCPAddr).Port),
		GRPC:     ls.GRPC.Addr().String(),
		HTTP:     "http://" + ls.HTTP.Addr().String() + "/",
		Forward:  "http://" + ls.ForwardAuth.Addr().String() + "/",
		Admin:    "http://" + ls.Admin.Addr().String() + "/",
		Upstream: "http://" + upLn.Addr().String() + "/",
		PortBusy: busy,
	}

	if s.idp, err = devidp.New(devidp.Options{
		Issuer:         s.urls.IdP,
		Clients:        []devidp.Client{{ID: clientID, Secret: s.secret, RedirectURIs: []string{app + "oauth2/callback"}, LogoutURLs: []string{app}}},
		Users:          users(),
		Audience:       audience,
		AccessTokenTTL: o.TokenTTL,
		ShowPasswords:  true,
		Logger:         s.log.With("part", "devidp"),
	}); err != nil {
		return nil, err
	}
	s.serveHTTP("identity provider", idpLn, s.idp.Handler())

	store, err := s.newStore(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.serveAuthbridge(ctx, store, ls); err != nil {
		return nil, err
	}

	via := "authbridge ext_authz gRPC (Envoy style)"
	if o.Gateway == GatewayHTTP {
		via = "authbridge /auth forward-auth (Traefik style)"
	}
	s.serveHTTP("echo upstream", upLn, newEcho(via, o.RefreshAhead, s.log.With("part", "echo")))
	gw, err := s.newGateway()
	if err != nil {
		return nil, err
	}
	s.serveHTTP("gateway", appLn, gw)
	s.log.Info("demo started", "app", s.urls.App, "gateway", o.Gateway, "idp", s.urls.IdP)
	return s, nil
}

// users are the demo's accounts; the login page lists them with their passwords.
func users() []devidp.User {
	return []devidp.User{
		{Username: "alice", Password: "alice-demo", Email: "alice@example.com", Name: "Alice Example", Groups: []string{"admin"}},
		{Username: "bob", Password: "bob-demo", Email: "bob@example.org", Name: "Bob Example"},
	}
}

// newStore is the session store: o.store (tests), Redis at o.RedisURL, or memory. The memory store's
// sweeper is run by server.Run, as in `authbridge serve`.
func (s *stack) newStore(ctx context.Context) (session.Store, error) {
	if s.o.store != nil {
		s.urls.StoreDesc = "in a store the test provided"
		return s.o.store, nil
	}
	if s.o.RedisURL == "" {
		s.urls.StoreDesc = "in memory (gone when the demo stops)"
		return session.NewMemoryStore(nil), nil
	}
	shown := s.o.RedisURL
	if u, err := url.Parse(s.o.RedisURL); err == nil {
		shown = u.Redacted()
	}
	client, err := session.NewRedisClient(session.RedisOptions{URL: s.o.RedisURL})
	if err != nil {
		return nil, err
	}
	s.stops = append(s.stops, func(context.Context) error { return client.Close() })
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := client.Ping(pctx).Err(); err != nil {
		return nil, fmt.Errorf("reach redis at %s: %w", shown, err)
	}
	s.urls.StoreDesc = "in Redis at " + shown
	return session.NewRedisStore(client, "authbridge-demo:"), nil
}

// serveAuthbridge runs authbridge itself through the same wiring as `authbridge serve`: recovery,
// timeouts, readiness and metrics included.
func (s *stack) serveAuthbridge(ctx context.Context, store session.Store, ls server.Listeners) error {
	srv, err := server.New(ctx, server.Options{
		Store: store,
		Login: login.Config{
			IssuerURL:    s.urls.IdP,
			ClientID:     clientID,
			ClientSecret: s.secret,
			RedirectURL:  s.urls.App + "oauth2/callback",
			Scopes:       []string{"openid", "profile", "email", "offline_access"},
			Audience:     audience,
		},
		Engine: authz.Options{
			Cookie: authz.CookieOptions{Name: CookieName, Secure: false}, // see CookieName
			Lifetimes: authz.Lifetimes{
				Idle: time.Hour, Max: 12 * time.Hour, RefreshAhead: s.o.RefreshAhead, Login: 10 * time.Minute,
			},
			Redirects: authz.Domains{"127.0.0.1", "localhost"},
		},
		// Only the gateway, on loopback, may describe the client's request with X-Forwarded-*.
		Fronts: forwardauth.Options{
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")},
		},
		Listeners: ls,
		Version:   s.o.Version,
		Logger:    s.log.With("part", "authbridge"),
	})
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Run(runCtx); err != nil {
			s.fail(fmt.Errorf("authbridge: %w", err))
		}
	}()
	s.stops = append(s.stops, func(ctx context.Context) error {
		cancel()
		select {
		case <-done:
		case <-ctx.Done(): // the grace period is over; Run finishes on its own
		}
		return nil
	})
	return nil
}
