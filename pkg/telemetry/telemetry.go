// Package telemetry turns OpenTelemetry tracing on from the standard OTEL_* environment variables, or
// leaves it off (and costless) when they name no exporter endpoint.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// ErrInvalidEnv is wrapped by Setup when an OTEL_* variable holds a value it cannot use.
var ErrInvalidEnv = errors.New("telemetry: invalid environment")

// ServiceName is the service.name traces carry unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES
// says otherwise.
const ServiceName = "authbridge"

// Setup reads the environment and, when it asks for traces, builds a tracer provider that exports them
// over OTLP, installs it (and the W3C trace-context propagator) as OpenTelemetry's global, and returns
// it with its shutdown, which flushes the spans still buffered. Tracing is on when
// OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set, unless OTEL_SDK_DISABLED is
// true or OTEL_TRACES_EXPORTER is none. Off, it returns a nil provider and a shutdown that does nothing,
// and installs nothing: the callers' nil check is then all that tracing costs.
//
// The exporter follows OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL (grpc or
// http/protobuf, the default), and reads its endpoint, headers, timeout and TLS settings from the
// environment itself. OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG pick the sampler (default
// parentbased_always_on); OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES describe the resource. version,
// when not empty, becomes service.version.
func Setup(ctx context.Context, log *slog.Logger, version string) (trace.TracerProvider, func(context.Context) error, error) {
	noop := func(context.Context) error { return nil }
	if !enabled() {
		return nil, noop, nil
	}
	sampler, err := samplerFromEnv()
	if err != nil {
		return nil, noop, err
	}
	exp, err := exporter(ctx)
	if err != nil {
		return nil, noop, err
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", ServiceName)}
	if version != "" {
		attrs = append(attrs, attribute.String("service.version", version))
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attrs...),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(), // last: the operator's OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win
	)
	if err != nil {
		return nil, noop, fmt.Errorf("%w: OTEL_RESOURCE_ATTRIBUTES: %w", ErrInvalidEnv, err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithSampler(sampler), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("opentelemetry", "err", err) }))
	log.Info("tracing on", "protocol", protocol(), "sampler", sampler.Description())
	return tp, tp.Shutdown, nil
}

// enabled reports whether the environment asks for traces.
func enabled() bool {
	if b, _ := strconv.ParseBool(strings.TrimSpace(os.Getenv("OTEL_SDK_DISABLED"))); b {
		return false
	}
	if strings.EqualFold(strings.TrimSpace(os.Getenv("OTEL_TRACES_EXPORTER")), "none") {
		return false
	}
	return os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// protocol is the OTLP transport the environment names, per the specification's precedence.
func protocol() string {
	for _, k := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if v := strings.TrimSpace(os.Getenv(k)); v != "" {
			return v
		}
	}
	return "http/protobuf"
}

func exporter(ctx context.Context) (sdktrace.SpanExporter, error) {
	if e := strings.TrimSpace(os.Getenv("OTEL_TRACES_EXPORTER")); e != "" && !strings.EqualFold(e, "otlp") {
		return nil, fmt.Errorf("%w: OTEL_TRACES_EXPORTER %q: authbridge exports traces over otlp only (or none)", ErrInvalidEnv, e)
	}
	var (
		exp sdktrace.SpanExporter
		err error
	)
	switch p := protocol(); p {
	case "grpc":
		exp, err = otlptracegrpc.New(ctx)
	case "http/protobuf":
		exp, err = otlptracehttp.New(ctx)
	default:
		return nil, fmt.Errorf("%w: OTLP protocol %q: use grpc or http/protobuf", ErrInvalidEnv, p)
	}
	if err != nil {
		return nil, fmt.Errorf("create OTLP trace exporter: %w", err)
	}
	return exp, nil
}
