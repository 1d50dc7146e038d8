package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/authbridge/authbridge/pkg/telemetry"
)

// flushTimeout bounds how long the last spans may take to reach the collector at shutdown.
const flushTimeout = 5 * time.Second

// setupTracing turns tracing on from the OTEL_* environment (telemetry.Setup: off unless an OTLP
// endpoint is named), unless the caller handed the engine a tracer provider already (tests do). It
// returns what flushes the spans still buffered; call it once, after the servers have stopped.
func setupTracing(ctx context.Context, o *Options) (flush func(), err error) {
	if o.Engine.Tracing != nil {
		return func() {}, nil
	}
	tp, shutdown, err := telemetry.Setup(ctx, o.Logger, o.Version)
	if err != nil {
		return nil, err
	}
	o.Engine.Tracing = tp // nil when off: the engine makes no spans
	return func() { flushTraces(shutdown, o.Logger) }, nil
}

func flushTraces(shutdown func(context.Context) error, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	if err := shutdown(ctx); err != nil {
		log.Warn("flush traces", "err", err)
	}
}
