package login

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/authbridge/authbridge/internal/spans"
)

// tracerName is the instrumentation scope of the provider spans.
const tracerName = "github.com/authbridge/authbridge/pkg/login"

// Span names of the calls to the provider, by endpoint.
const (
	SpanDiscovery = "oidc discovery"
	SpanJWKS      = "oidc jwks"
	SpanToken     = "oidc token"
)

// traceTransport makes a client span of every call to the provider made inside a recording span (a
// sampled decision, or the discovery at start-up), named by endpoint, and passes the trace on to the
// provider in traceparent. The span holds the method, host and status: never the URL's query or a body,
// where codes and tokens travel.
type traceTransport struct{ next http.RoundTripper }

// traceClient returns c with its transport wrapped in a traceTransport.
func traceClient(c *http.Client) *http.Client {
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	traced := *c
	traced.Transport = &traceTransport{next: next}
	return &traced
}

// RoundTrip implements http.RoundTripper.
func (t *traceTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx, span := spans.Child(r.Context(), tracerName, endpointSpan(r), trace.SpanKindClient)
	if span == nil {
		return t.next.RoundTrip(r)
	}
	span.SetAttributes(attribute.String("http.request.method", r.Method), attribute.String("server.address", r.URL.Host))
	r = r.Clone(ctx) // a RoundTripper must not change the caller's request
	propagation.TraceContext{}.Inject(ctx, propagation.HeaderCarrier(r.Header))
	resp, err := t.next.RoundTrip(r)
	if err == nil {
		span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	}
	spans.End(span, err)
	return resp, err
}

// endpointSpan names a call by the endpoint it reaches (endpointOf, as the provider metrics label it).
func endpointSpan(r *http.Request) string { return spanNames[endpointOf(r)] }

// spanNames are the span names by endpoint.
var spanNames = [numEndpoints]string{endpointOther: "oidc other", endpointDiscovery: SpanDiscovery,
	endpointJWKS: SpanJWKS, endpointToken: SpanToken}

// discoverySpan is the root span of the discovery at start-up, from the global tracer provider that
// telemetry.Setup installs (a no-op one when tracing is off): no decision is running then to be its parent.
func discoverySpan(ctx context.Context, issuer string) (context.Context, trace.Span) {
	return otel.Tracer(tracerName).Start(ctx, "login.discover", trace.WithAttributes(attribute.String("oidc.issuer", issuer)))
}
