package login

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// callEndpoint is which provider endpoint a call goes to: a label value of the provider metrics.
type callEndpoint uint8

const (
	endpointOther     callEndpoint = iota // anything not tagged below
	endpointDiscovery                     // /.well-known/openid-configuration
	endpointJWKS                          // the jwks_uri
	endpointToken                         // the token endpoint: code exchange and refresh
	numEndpoints
)

var endpointNames = [numEndpoints]string{"other", "discovery", "jwks", "token"}

// callResult is how a provider call ended.
type callResult uint8

const (
	callOK          callResult = iota // 2xx
	callRefused                       // 4xx: the provider answered and said no (e.g. invalid_grant)
	callFailed                        // 5xx or another status: the provider answered that it cannot
	callUnreachable                   // no answer: connection refused, timeout, TLS failure
	numCallResults
)

var callResultNames = [numCallResults]string{"ok", "refused", "failed", "unreachable"}

// Metrics times the calls to identity providers by endpoint and counts them by result. It is shared by
// every Provider and bearer verifier of a process; series are resolved once, so a call does no label
// hashing. A nil *Metrics records nothing.
type Metrics struct {
	latency [numEndpoints]prometheus.Observer
	calls   [numEndpoints][numCallResults]prometheus.Counter
}

// NewMetrics registers the provider call metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "authbridge_provider_request_duration_seconds",
		Help:    "Time from sending a request to the identity provider to its response headers, by endpoint (discovery, jwks, token, other).",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"endpoint"})
	calls := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "authbridge_provider_requests_total",
		Help: "Requests to the identity provider by endpoint and result (ok 2xx, refused 4xx, failed 5xx, unreachable: no answer).",
	}, []string{"endpoint", "result"})
	reg.MustRegister(latency, calls)
	m := &Metrics{}
	for e, en := range endpointNames {
		m.latency[e] = latency.WithLabelValues(en)
		for r, rn := range callResultNames {
			m.calls[e][r] = calls.WithLabelValues(en, rn)
		}
	}
	return m
}

// Client returns a copy of c whose calls are recorded; with a nil m, c itself.
func (m *Metrics) Client(c *http.Client) *http.Client {
	if m == nil {
		return c
	}
	return withTransport(c, func(next http.RoundTripper) http.RoundTripper { return &metricsTransport{next: next, m: m} })
}

// metricsTransport records each round trip under the endpoint its context names (withEndpoint); an
// untagged discovery document (go-oidc's own fetch) is recognised by its path.
type metricsTransport struct {
	next http.RoundTripper
	m    *Metrics
}

// RoundTrip implements http.RoundTripper.
func (t *metricsTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	e, _ := r.Context().Value(endpointKey{}).(callEndpoint)
	if e == endpointOther && strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration") {
		e = endpointDiscovery
	}
	start := time.Now()
	resp, err := t.next.RoundTrip(r)
	t.m.latency[e].Observe(time.Since(start).Seconds())
	res := callUnreachable
	switch {
	case err != nil:
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		res = callOK
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		res = callRefused
	default:
		res = callFailed
	}
	t.m.calls[e][res].Inc()
	return resp, err
}

type endpointKey struct{}

// withEndpoint tags the provider calls made with ctx as calls to e.
func withEndpoint(ctx context.Context, e callEndpoint) context.Context {
	return context.WithValue(ctx, endpointKey{}, e)
}
