package demo

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/authbridge/authbridge/internal/otlptest"
	"github.com/authbridge/authbridge/pkg/authz"
)

// TestDemoTraces: with OTEL_EXPORTER_OTLP_ENDPOINT set, the demo's decisions reach the collector, and
// stopping the demo flushes them.
func TestDemoTraces(t *testing.T) {
	rcv := otlptest.Start(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rcv.HTTPURL)
	t.Cleanup(func() { otel.SetTracerProvider(noop.NewTracerProvider()) })
	s, err := start(context.Background(), Options{Gateway: GatewayHTTP})
	require.NoError(t, err)
	c := &http.Client{Timeout: 10 * time.Second}
	status, _, _ := get(t, c, s.urls.App+"api/whoami", "application/json")
	require.Equal(t, http.StatusUnauthorized, status)
	require.NoError(t, s.stop())

	var decisions []otlptest.Span
	for _, sp := range rcv.Spans() {
		if sp.GetName() == authz.SpanDecide {
			decisions = append(decisions, sp)
		}
	}
	require.Len(t, decisions, 1)
	require.Equal(t, authz.FrontForwardAuth, decisions[0].Attr(authz.AttrFront))
	require.Equal(t, "deny", decisions[0].Attr(authz.AttrOutcome))
	require.Equal(t, "/api/whoami", decisions[0].Attr("url.path"))
}
