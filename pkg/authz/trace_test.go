package authz_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/internal/leaktest"
	"github.com/authbridge/authbridge/pkg/authz"
)

// TestDecisionSpan: the decision span continues a well-formed, sampled traceparent; a parent that says
// "not sampled" is followed (no span recorded, no children); anything malformed starts a trace of its
// own rather than being trusted or failing the request. No span attribute holds a secret.
func TestDecisionSpan(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	env := enginetest.New(t, enginetest.Options{Engine: authz.Options{Tracing: tp}, TokenTTL: time.Second}) // always due for refresh
	cookie, _ := env.Login(t, "/")

	const trace, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	for _, tc := range []struct {
		name, traceparent string
		recorded          bool   // a decision span is exported
		wantParent        string // its parent span id; "" for a root
	}{
		{"sampled parent", "00-" + trace + "-" + parent + "-01", true, parent},
		{"unsampled parent", "00-" + trace + "-" + parent + "-00", false, ""},
		{"none", "", true, ""},
		{"garbage", "not-a-traceparent", true, ""},
		{"all-zero trace id", "00-00000000000000000000000000000000-" + parent + "-01", true, ""},
		{"all-zero span id", "00-" + trace + "-0000000000000000-01", true, ""},
		{"version ff", "ff-" + trace + "-" + parent + "-01", true, ""},
		{"upper-case hex", "00-" + strings.ToUpper(trace) + "-" + parent + "-01", true, ""},
		{"too long", "00-" + trace + "-" + parent + "-01-" + strings.Repeat("x", 4096), true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exp.Reset()
			r := enginetest.Navigate("/items?token=hunter2-query", cookie)
			r.TraceParent, r.TraceState = tc.traceparent, "vendor=opaque"
			d, err := env.Engine.Decide(context.Background(), r)
			require.NoError(t, err)
			require.Equal(t, authz.Allow, d.Outcome)
			got := exp.GetSpans()
			if !tc.recorded {
				require.Empty(t, got, "the gateway did not sample this request")
				return
			}
			var decide tracetest.SpanStub
			for _, s := range got {
				if s.Name == authz.SpanDecide {
					decide = s
				}
			}
			require.Equal(t, authz.SpanDecide, decide.Name)
			if tc.wantParent != "" {
				require.Equal(t, trace, decide.SpanContext.TraceID().String())
				require.Equal(t, tc.wantParent, decide.Parent.SpanID().String())
			} else {
				require.False(t, decide.Parent.IsValid(), "a trace of its own")
				require.NotEqual(t, trace, decide.SpanContext.TraceID().String())
			}
			names := map[string]bool{}
			for _, s := range got {
				if s.SpanContext.TraceID() == decide.SpanContext.TraceID() {
					names[s.Name] = true
				}
			}
			require.True(t, names["authbridge.refresh"], "refresh child in %v", names)
			require.True(t, names["session.store get"], "store child in %v", names)
			require.True(t, names["oidc token"], "provider child in %v", names)

			var secrets leaktest.Secrets
			secrets.AddSessionCookie("session", cookie[strings.Index(cookie, "=")+1:])
			secrets.Add("subject", enginetest.Alice.Subject)
			secrets.Add("e-mail", enginetest.Alice.Email)
			secrets.Add("query", "hunter2-query")
			secrets.Add("bearer", strings.TrimPrefix(d.Upstream.Get("Authorization"), "Bearer "))
			for _, s := range got {
				var text []string
				text = append(text, s.Name, s.Status.Description)
				for _, kv := range append(s.Attributes, s.Resource.Attributes()...) {
					text = append(text, string(kv.Key), kv.Value.Emit())
				}
				for _, e := range s.Events {
					for _, kv := range e.Attributes {
						text = append(text, e.Name, kv.Value.Emit())
					}
				}
				secrets.Check(t, "span "+s.Name, strings.Join(text, "\n"))
			}
		})
	}
}
