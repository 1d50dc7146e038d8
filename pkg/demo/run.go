package demo

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/authbridge/authbridge/internal/gateway"
	"github.com/authbridge/authbridge/pkg/server"
)

// newGateway builds the gateway in front of the echo upstream for the configured mode.
func (s *stack) newGateway() (http.Handler, error) {
	up, err := url.Parse(s.urls.Upstream)
	if err != nil {
		return nil, fmt.Errorf("parse upstream url: %w", err)
	}
	log := s.log.With("part", "gateway")
	if s.o.Gateway == GatewayHTTP {
		return gateway.NewForwardAuth(gateway.ForwardAuthOptions{Address: s.urls.Forward + "auth", Upstream: up, Logger: log})
	}
	conn, err := grpc.NewClient(s.urls.GRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("dial ext_authz: %w", err)
	}
	s.stops = append(s.stops, func(context.Context) error { return conn.Close() })
	return gateway.NewEnvoy(gateway.EnvoyOptions{Upstream: up, Client: authv3.NewAuthorizationClient(conn), Logger: log})
}

// listenGateway opens the gateway's port on 127.0.0.1, or a free one when port is 0 or taken.
func listenGateway(port int) (ln net.Listener, busy bool, err error) {
	if port != 0 {
		ln, err = net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			return ln, false, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			return nil, false, fmt.Errorf("listen: %w", err)
		}
		busy = true
	}
	if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return nil, false, fmt.Errorf("listen: %w", err)
	}
	return ln, busy, nil
}

// serveHTTP serves h on ln until stop.
func (s *stack) serveHTTP(name string, ln net.Listener, h http.Handler) {
	srv := server.NewHTTPServer(h, s.log)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.fail(fmt.Errorf("serve %s: %w", name, err))
		}
	}()
	s.stops = append(s.stops, func(ctx context.Context) error {
		if err := srv.Shutdown(ctx); err != nil {
			return srv.Close() // the grace period is over: drop what is left
		}
		return nil
	})
}

// fail reports a part that stopped on its own; Run then stops the rest.
func (s *stack) fail(err error) {
	select {
	case s.errc <- err:
	default: // Run is already stopping because of an earlier failure
	}
}

// stop undoes start in reverse order, giving in-flight requests a short grace period.
func (s *stack) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), stopGrace)
	defer cancel()
	var errs []error
	for i := len(s.stops) - 1; i >= 0; i-- {
		errs = append(errs, s.stops[i](ctx))
	}
	s.stops = nil
	s.log.Info("demo stopped")
	return errors.Join(errs...)
}

// banner tells a person where to go and what runs where.
func (s *stack) banner(w io.Writer) {
	u := s.urls
	mode := "asks authbridge over ext_authz gRPC, as Envoy does"
	if s.o.Gateway == GatewayHTTP {
		mode = "asks authbridge's /auth, as Traefik's forwardAuth does"
	}
	var b strings.Builder
	b.WriteString("\nauthbridge demo: log in through a gateway and see what the upstream API receives.\n\n")
	fmt.Fprintf(&b, "  open    %s\n", u.App)
	b.WriteString("  log in  alice / alice-demo (group admin)   or   bob / bob-demo\n")
	if u.PortBusy {
		fmt.Fprintf(&b, "          (port %d was busy, so the gateway took another one)\n", s.o.Port)
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 3, ' ', 0)
	fmt.Fprintf(tw, "  gateway\t%s\t%s\n", u.App, mode)
	fmt.Fprintf(tw, "  identity provider\t%s\tAuth0-like development provider (issuer)\n", u.IdP)
	fmt.Fprintf(tw, "  authbridge gRPC\t%s\tenvoy.service.auth.v3.Authorization/Check\n", u.GRPC)
	fmt.Fprintf(tw, "  authbridge forward-auth\t%s\t/auth, for the gateway only: its answers carry the token\n", u.Forward)
	fmt.Fprintf(tw, "  authbridge HTTP\t%s\t/oauth2/start, /oauth2/callback, /oauth2/sign_out (browser-facing)\n", u.HTTP)
	fmt.Fprintf(tw, "  authbridge admin\t%s\t/metrics (Prometheus), /healthz, /readyz\n", u.Admin)
	fmt.Fprintf(tw, "  echo upstream\t%s\tthe app behind the gateway (opened directly, it gets no token)\n", u.Upstream)
	_ = tw.Flush()
	fmt.Fprintf(&b, "\n  %-20s%s\n", "sessions", u.StoreDesc)
	fmt.Fprintf(&b, "  %-20slive %s; authbridge refreshes them %s before they expire\n", "access tokens", s.o.TokenTTL, s.o.RefreshAhead)
	b.WriteString("\nPress Ctrl-C to stop.\n\n")
	_, _ = io.WriteString(w, b.String())
}

// randomSecret returns a fresh client secret.
func randomSecret() string {
	var b [24]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func ignoreClosed(err error) error {
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
