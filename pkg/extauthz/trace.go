package extauthz

import (
	"context"

	"google.golang.org/grpc/metadata"

	"github.com/authbridge/authbridge/pkg/authz"
)

// grpcTraceContext puts the W3C trace context of the Check call itself, when Envoy sent one in the gRPC
// metadata, in r in place of the one in the CheckRequest's headers. Envoy makes a client span for its
// ext_authz call and injects it there: that span, not the client's request (whose headers Envoy may not
// have touched yet when the filter runs), is the decision's parent.
func grpcTraceContext(ctx context.Context, r *authz.Request) {
	tp := metadata.ValueFromIncomingContext(ctx, "traceparent")
	if len(tp) != 1 {
		return
	}
	r.TraceParent, r.TraceState = tp[0], ""
	if ts := metadata.ValueFromIncomingContext(ctx, "tracestate"); len(ts) == 1 {
		r.TraceState = ts[0]
	}
}
