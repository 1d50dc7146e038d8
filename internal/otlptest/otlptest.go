// Package otlptest is an OTLP trace receiver for tests: the collector's TraceService over gRPC and
// POST /v1/traces over HTTP (binary protobuf, gzip or not), both decoding the real OTLP protobuf, on
// free 127.0.0.1 ports, so that a test sees exactly what an exporter put on the wire.
package otlptest

import (
	"compress/gzip"
	"context"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// Span is one received span with the resource it came with.
type Span struct {
	*tracepb.Span
	Resource []*commonpb.KeyValue
}

// TraceID is the span's trace id in hex, as traceparent writes it.
func (s Span) TraceID() string { return hex.EncodeToString(s.GetTraceId()) }

// SpanID is the span's id in hex.
func (s Span) SpanID() string { return hex.EncodeToString(s.GetSpanId()) }

// ParentID is the span's parent id in hex, "" for a root span.
func (s Span) ParentID() string { return hex.EncodeToString(s.GetParentSpanId()) }

// Attr is the string form of the span's attribute key, "" when absent.
func (s Span) Attr(key string) string {
	for _, kv := range s.GetAttributes() {
		if kv.GetKey() == key {
			return Value(kv.GetValue())
		}
	}
	return ""
}

// Receiver collects what exporters send it until the test ends.
type Receiver struct {
	collectorpb.UnimplementedTraceServiceServer
	GRPCAddr string // host:port of the gRPC TraceService
	HTTPURL  string // base URL of the HTTP receiver (POST /v1/traces)

	mu       sync.Mutex
	spans    []Span
	requests int
}

// Start starts both receivers; they stop when the test ends.
func Start(t testing.TB) *Receiver {
	t.Helper()
	r := &Receiver{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	collectorpb.RegisterTraceServiceServer(srv, r)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	r.GRPCAddr = ln.Addr().String()
	hs := httptest.NewServer(http.HandlerFunc(r.serveHTTP))
	t.Cleanup(hs.Close)
	r.HTTPURL = hs.URL
	return r
}

// Export implements the collector's TraceService.
func (r *Receiver) Export(_ context.Context, req *collectorpb.ExportTraceServiceRequest) (*collectorpb.ExportTraceServiceResponse, error) {
	r.add(req)
	return &collectorpb.ExportTraceServiceResponse{}, nil
}

func (r *Receiver) serveHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost || req.URL.Path != "/v1/traces" {
		http.NotFound(w, req)
		return
	}
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var m collectorpb.ExportTraceServiceRequest
	if req.Header.Get("Content-Type") != "application/x-protobuf" || proto.Unmarshal(raw, &m) != nil {
		http.Error(w, "want an OTLP protobuf ExportTraceServiceRequest", http.StatusBadRequest)
		return
	}
	r.add(&m)
	out, _ := proto.Marshal(&collectorpb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func (r *Receiver) add(req *collectorpb.ExportTraceServiceRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests++
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				r.spans = append(r.spans, Span{Span: s, Resource: rs.GetResource().GetAttributes()})
			}
		}
	}
}

// Spans returns every span received so far.
func (r *Receiver) Spans() []Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Span(nil), r.spans...)
}

// Requests is how many export requests arrived, spans or not.
func (r *Receiver) Requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests
}

// Strings returns every string a span carries that an exporter could leak a secret through: its name,
// status message, attribute keys and values, event names and attributes, link attributes and its
// resource's attributes, with arrays and maps flattened.
func (s Span) Strings() []string {
	out := []string{s.GetName(), s.GetStatus().GetMessage(), s.GetTraceState()}
	kvs := func(list []*commonpb.KeyValue) {
		for _, kv := range list {
			out = append(out, kv.GetKey(), Value(kv.GetValue()))
		}
	}
	kvs(s.GetAttributes())
	kvs(s.Resource)
	for _, e := range s.GetEvents() {
		out = append(out, e.GetName())
		kvs(e.GetAttributes())
	}
	for _, l := range s.GetLinks() {
		out = append(out, l.GetTraceState())
		kvs(l.GetAttributes())
	}
	return out
}

// Value is an attribute value as a string; arrays and maps are flattened with their elements joined by
// spaces, so that a search for a secret finds it wherever it is nested.
func Value(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_BytesValue:
		return string(x.BytesValue)
	case *commonpb.AnyValue_ArrayValue:
		var s string
		for _, e := range x.ArrayValue.GetValues() {
			s += Value(e) + " "
		}
		return s
	case *commonpb.AnyValue_KvlistValue:
		var s string
		for _, kv := range x.KvlistValue.GetValues() {
			s += kv.GetKey() + "=" + Value(kv.GetValue()) + " "
		}
		return s
	}
	return v.String() // numbers and booleans: their text form
}
