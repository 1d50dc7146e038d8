package authz_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/pkg/authz"
)

// BenchmarkDecideTracing is the hot path (BenchmarkDecideAllowed: a valid session in the memory store,
// one store read per decision) with tracing off, and on at 1 % and 100 % sampling
// (ParentBased(TraceIDRatio)), spans batched to an exporter that drops them: the cost of making, not
// shipping, them. Requests carry no traceparent, so the ratio decides; docs/performance.md has figures.
// Besides ns/op it reports cpu-ns/op, the process's CPU time (every thread: GC and the span batcher too)
// per decision, which a machine busy with other work inflates far less than wall time.
func BenchmarkDecideTracing(b *testing.B) {
	for _, bc := range []struct {
		name  string
		ratio float64 // < 0: tracing off
	}{{"off", -1}, {"sampled 1%", 0.01}, {"sampled 100%", 1}} {
		b.Run(bc.name, func(b *testing.B) {
			var o authz.Options
			if bc.ratio >= 0 {
				tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()),
					sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(bc.ratio))))
				b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
				o.Tracing = tp
			}
			env := enginetest.New(b, enginetest.Options{Engine: o})
			cookie, _ := env.Login(b, "/")
			req := &authz.Request{Front: authz.FrontForwardAuth, Method: "GET", Scheme: "https", Host: enginetest.AppHost,
				URI: "/api/items", Accept: "application/json", Cookie: "theme=dark; " + cookie, RequestID: "5e4d3c2b-1a09-4f8e"}
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				d, err := env.Engine.Decide(ctx, req)
				if err != nil || d.Outcome != authz.Allow {
					b.Fatal(err, d)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the CPU time this process has used, user and system, in every thread.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
