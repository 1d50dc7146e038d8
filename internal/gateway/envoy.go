package gateway

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/codes"
)

// DefaultCheckTimeout bounds one Check when EnvoyOptions.Timeout is zero. Envoy's own default is 200ms;
// Istio's extension providers default to far longer, and a check that logs a user in (code exchange,
// JWKS, token verification) takes more than 200ms on a loaded test machine.
const DefaultCheckTimeout = 5 * time.Second

// EnvoyOptions configure an Envoy gateway.
type EnvoyOptions struct {
	Upstream *url.URL                   // where allowed requests go; required
	Client   authv3.AuthorizationClient // the ext_authz service; required
	Timeout  time.Duration              // per Check; default DefaultCheckTimeout
	// FailureModeAllow lets a request through when Check fails (a gRPC error or timeout), with
	// x-envoy-auth-failure-mode-allowed: true; otherwise the client gets StatusOnError.
	FailureModeAllow bool
	StatusOnError    int          // default 403, as Envoy's status_on_error
	Logger           *slog.Logger // default discards
}

// Envoy is an HTTP gateway with Envoy's ext_authz filter in front of one upstream: for every request it
// sends the CheckRequest Envoy sends over gRPC, then either applies the OkHttpResponse and proxies,
// or renders the DeniedHttpResponse.
type Envoy struct {
	o     EnvoyOptions
	log   *slog.Logger
	proxy http.Handler
}

var _ http.Handler = (*Envoy)(nil)

// editsKey carries an allowed check's response edits from ServeHTTP to the proxy's ModifyResponse.
type editsKey struct{}

// NewEnvoy returns an Envoy gateway.
func NewEnvoy(o EnvoyOptions) (*Envoy, error) {
	if o.Upstream == nil || o.Client == nil {
		return nil, errors.New("gateway: upstream and client are required")
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultCheckTimeout
	}
	if o.StatusOnError == 0 {
		o.StatusOnError = http.StatusForbidden
	}
	log := orDiscard(o.Logger)
	proxy := newProxy(o.Upstream, log, func(resp *http.Response) {
		if es, ok := resp.Request.Context().Value(editsKey{}).(ResponseEdits); ok {
			es.Apply(resp.Header)
		}
	})
	return &Envoy{o: o, log: log, proxy: proxy}, nil
}

// ServeHTTP checks one request and proxies or answers it.
func (e *Envoy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	EdgeHeaders(r)
	req := CheckRequest(r, rand.Uint64(), start)
	ctx, cancel := context.WithTimeout(r.Context(), e.o.Timeout)
	resp, err := e.o.Client.Check(ctx, req)
	cancel()
	log := e.log.With("request_id", r.Header.Get("X-Request-Id"))
	if err != nil {
		log.Warn("ext_authz check failed", "err", err)
		if !e.o.FailureModeAllow {
			w.WriteHeader(e.o.StatusOnError)
			return
		}
		r.Header.Set("X-Envoy-Auth-Failure-Mode-Allowed", "true")
		e.proxy.ServeHTTP(w, r)
		return
	}
	if codes.Code(resp.GetStatus().GetCode()) != codes.OK {
		log.Debug("ext_authz denied", "status", resp.GetDeniedResponse().GetStatus().GetCode())
		WriteDenied(w, resp.GetDeniedResponse())
		return
	}
	edits := ApplyOK(r, resp.GetOkResponse())
	log.Debug("ext_authz allowed", "path", r.URL.Path)
	e.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), editsKey{}, edits)))
}
