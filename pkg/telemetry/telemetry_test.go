package telemetry_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/authbridge/authbridge/internal/otlptest"
	"github.com/authbridge/authbridge/pkg/telemetry"
)

// otelVars are every variable a row may set; each row starts with all of them unset.
var otelVars = []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL",
	"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_TRACES_SAMPLER",
	"OTEL_TRACES_SAMPLER_ARG", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"}

func TestSetup(t *testing.T) {
	rcv := otlptest.Start(t)
	grpcURL := "http://" + rcv.GRPCAddr
	for _, tc := range []struct {
		name    string
		env     map[string]string
		on      bool
		wantErr string // in the error; "" for none
	}{
		{name: "nothing set: off", env: nil},
		{name: "only a sampler: off", env: map[string]string{"OTEL_TRACES_SAMPLER": "always_on"}},
		{name: "SDK disabled: off", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.HTTPURL, "OTEL_SDK_DISABLED": "true"}},
		{name: "exporter none: off", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.HTTPURL, "OTEL_TRACES_EXPORTER": "none"}},
		{name: "endpoint: http/protobuf by default", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.HTTPURL}, on: true},
		{name: "traces endpoint, grpc", on: true, env: map[string]string{
			"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": grpcURL, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}},
		{name: "traces protocol wins", on: true, env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": grpcURL,
			"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"}},
		{name: "ratio sampler", on: true, env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.HTTPURL,
			"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1"}},
		{name: "unknown sampler", wantErr: `OTEL_TRACES_SAMPLER "sometimes"`,
			env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.HTTPURL, "OTEL_TRACES_SAMPLER": "sometimes"}},
		{name: "ratio above 1", wantErr: `OTEL_TRACES_SAMPLER_ARG "2"`, env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.HTTPURL,
			"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"}},
		{name: "ratio not a number", wantErr: `OTEL_TRACES_SAMPLER_ARG "1%"`, env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.HTTPURL,
			"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1%"}},
		{name: "http/json", wantErr: `OTLP protocol "http/json"`,
			env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.HTTPURL, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}},
		{name: "another exporter", wantErr: `OTEL_TRACES_EXPORTER "zipkin"`,
			env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.HTTPURL, "OTEL_TRACES_EXPORTER": "zipkin"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range otelVars {
				t.Setenv(k, tc.env[k])
			}
			otel.SetTracerProvider(noop.NewTracerProvider())
			t.Cleanup(func() { otel.SetTracerProvider(noop.NewTracerProvider()) })
			before := rcv.Requests()

			tp, shutdown, err := telemetry.Setup(context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil)), "v1.2.3")
			if tc.wantErr != "" {
				require.ErrorIs(t, err, telemetry.ErrInvalidEnv)
				require.ErrorContains(t, err, tc.wantErr)
				require.Nil(t, tp)
				return
			}
			require.NoError(t, err)
			_, span := otel.Tracer("test").Start(context.Background(), "probe")
			span.End()
			require.NoError(t, shutdown(context.Background()))
			_, installed := otel.GetTracerProvider().(*sdktrace.TracerProvider)
			if !tc.on {
				require.Nil(t, tp, "off: no provider for the engine")
				require.False(t, installed, "off: no provider installed")
				require.Equal(t, before, rcv.Requests(), "off: nothing exported")
				return
			}
			require.NotNil(t, tp)
			require.True(t, installed, "on: the provider is OpenTelemetry's global")
			require.Greater(t, rcv.Requests(), before, "the probe span was exported (shutdown flushes)")
			last := rcv.Spans()[len(rcv.Spans())-1]
			require.Equal(t, "probe", last.GetName())
			res := map[string]string{}
			for _, kv := range last.Resource {
				res[kv.GetKey()] = otlptest.Value(kv.GetValue())
			}
			require.Equal(t, "authbridge", res["service.name"])
			require.Equal(t, "v1.2.3", res["service.version"])
		})
	}
}

// TestSetupResourceFromEnv: the operator's OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override the
// defaults.
func TestSetupResourceFromEnv(t *testing.T) {
	rcv := otlptest.Start(t)
	for _, k := range otelVars {
		t.Setenv(k, "")
	}
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rcv.HTTPURL)
	t.Setenv("OTEL_SERVICE_NAME", "edge-auth")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=staging")
	t.Cleanup(func() { otel.SetTracerProvider(noop.NewTracerProvider()) })
	tp, shutdown, err := telemetry.Setup(context.Background(), slog.New(slog.DiscardHandler), "")
	require.NoError(t, err)
	_, span := tp.Tracer("test").Start(context.Background(), "probe")
	span.End()
	require.NoError(t, shutdown(context.Background()))
	spans := rcv.Spans()
	require.Len(t, spans, 1)
	res := map[string]string{}
	for _, kv := range spans[0].Resource {
		res[kv.GetKey()] = otlptest.Value(kv.GetValue())
	}
	require.Equal(t, "edge-auth", res["service.name"])
	require.Equal(t, "staging", res["deployment.environment.name"])
	require.NotContains(t, res, "service.version", "no version given, none claimed")
}
