package authz

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/authbridge/authbridge/internal/spans"
)

// tracerName is the instrumentation scope of the engine's spans.
const tracerName = "github.com/authbridge/authbridge/pkg/authz"

// SpanDecide names the span of one decision; the store, refresh and provider spans are its children.
const SpanDecide = "authbridge.decide"

// Span attributes of a decision. None holds a token, cookie, session id or e-mail: the subject is not
// recorded at all, and the path is without its query (a callback's carries the code and state).
const (
	AttrFront   = "authbridge.front"
	AttrRoute   = "authbridge.route"
	AttrOutcome = "authbridge.outcome"
	AttrReason  = "authbridge.reason"
)

// Traced reports whether the engine makes spans (Options.Tracing is set), so that a front looks for
// trace context beyond the request's headers only then.
func (e *Engine) Traced() bool { return e.tracer != nil }

// decideOptions start every decision span; built once, so that an unsampled decision allocates less.
var decideOptions = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}

// traceContext is Request's W3C trace context as a carrier for the propagator; read-only.
type traceContext struct{ r *Request }

func (c traceContext) Get(key string) string {
	switch key {
	case "traceparent":
		return c.r.TraceParent
	case "tracestate":
		return c.r.TraceState
	}
	return ""
}
func (traceContext) Set(string, string) {}
func (traceContext) Keys() []string     { return []string{"traceparent", "tracestate"} }

// startSpan starts the decision's span as a child of the gateway's span when r carries a valid
// traceparent, else as a new trace. The sampler decides whether it records (ParentBased follows the
// gateway's sampled flag).
func (e *Engine) startSpan(ctx context.Context, r *Request) (context.Context, trace.Span) {
	if r.TraceParent != "" {
		ctx = propagation.TraceContext{}.Extract(ctx, traceContext{r})
	}
	ctx, span := e.tracer.Start(ctx, SpanDecide, decideOptions...)
	if span.IsRecording() {
		span.SetAttributes(
			attribute.String(AttrFront, r.Front),
			attribute.String("http.request.method", r.Method),
			attribute.String("server.address", r.Host),
			attribute.String("url.path", pathOf(r.URI)),
		)
		if r.RequestID != "" {
			span.SetAttributes(attribute.String("http.request.header.x-request-id", r.RequestID))
		}
	}
	return ctx, span
}

// endSpan records the decision on span and ends it.
func endSpan(span trace.Span, d *Decision, err error) {
	if span.IsRecording() {
		if err != nil {
			span.SetAttributes(attribute.String(AttrOutcome, "error"))
			span.SetStatus(codes.Error, err.Error())
		} else {
			span.SetAttributes(
				attribute.String(AttrOutcome, d.Outcome.String()),
				attribute.String(AttrReason, d.Reason),
				attribute.Int("http.response.status_code", d.Status),
			)
			if d.route != nil {
				span.SetAttributes(attribute.String(AttrRoute, d.route.label()))
			}
		}
	}
	span.End()
}

// traceID is the trace a decision belongs to, for the log: the span's when the decision has one, else
// the one the gateway's traceparent names (so that logs match the gateway's traces even with tracing
// off), else "".
func traceID(ctx context.Context, r *Request) string {
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		return sc.TraceID().String()
	}
	// version "-" trace-id "-" parent-id "-" flags; only the trace id is taken, and only when it is hex.
	tp := r.TraceParent
	if len(tp) < 55 || tp[2] != '-' || tp[35] != '-' {
		return ""
	}
	id := tp[3:35]
	if _, err := trace.TraceIDFromHex(id); err != nil {
		return ""
	}
	return id
}

// refreshSpan starts the child span of a token refresh when ctx's span records; nil otherwise.
func refreshSpan(ctx context.Context) (context.Context, trace.Span) {
	return spans.Child(ctx, tracerName, "authbridge.refresh", trace.SpanKindInternal)
}

// endRefreshSpan records how a refresh ended on span (the result the refresh metric counts: ok, waited,
// invalid_grant, …), when there is a span, and ends it.
func endRefreshSpan(span trace.Span, result refreshResult, err error) {
	if span == nil {
		return
	}
	span.SetAttributes(attribute.String("authbridge.refresh.result", refreshResults[result]))
	spans.End(span, err)
}
