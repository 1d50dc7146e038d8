// Package spans starts the child spans of a decision (store calls, refresh, provider calls) only when
// the decision's span records, so that an untraced or unsampled request pays one context lookup for them.
package spans

import (
	"context"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Child starts a span named name, from the instrumentation scope scope, as a child of ctx's span when
// that span is recording; otherwise it returns ctx and nil. The child uses its parent's tracer provider,
// so no provider has to be handed down to the packages that make children.
// Callers set attributes on the span they get, so that nothing is built for a request that is not traced.
func Child(ctx context.Context, scope, name string, kind trace.SpanKind) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, nil
	}
	return parent.TracerProvider().Tracer(scope).Start(ctx, name, trace.WithSpanKind(kind))
}

// End marks span failed with err's text when err is not nil, and ends it; a nil span is left alone. err's
// text must hold no secret (the packages' error messages never do: they are logged as they are).
func End(span trace.Span, err error) {
	if span == nil {
		return
	}
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
