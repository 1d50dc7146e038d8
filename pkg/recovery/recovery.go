// Package recovery turns a panic in a request path into a fail-closed answer that is logged once with
// its stack and counted, so that one bad request cannot take the process (and every other user) down.
package recovery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Body is the generic text of an HTTP answer to a request whose handler panicked.
const Body = "temporarily unavailable\n"

// maxValue bounds how much of a panic value is logged.
const maxValue = 256

// ErrPanicked is the error a gRPC call gets when its handler panicked and no Fallback answered it.
var ErrPanicked = status.Error(codes.Unavailable, "temporarily unavailable")

// Stacker is implemented by a panic value that carries the stack of an earlier panic, re-raised on the
// request's goroutine after it was caught on another (see authz's refresh); its stack is logged too.
type Stacker interface{ PanicStack() []byte }

// Recoverer wraps handlers and gRPC servers. It is safe for concurrent use.
type Recoverer struct {
	log    *slog.Logger
	panics *prometheus.CounterVec
}

// New returns a Recoverer that counts panics in authbridge_panics_total{listener} on reg. log may be nil.
func New(reg prometheus.Registerer, log *slog.Logger) *Recoverer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Recoverer{log: log, panics: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "authbridge_panics_total",
		Help: "Requests whose handler panicked and got a fail-closed answer, by listener.",
	}, []string{"listener"})}
	reg.MustRegister(r.panics)
	return r
}

// record logs and counts one recovered panic. where names the path or gRPC method, never the query,
// headers or cookies.
func (r *Recoverer) record(ctx context.Context, counter prometheus.Counter, listener, where string, v any, stack []byte) {
	counter.Inc()
	val := fmt.Sprint(v)
	if len(val) > maxValue {
		val = val[:maxValue] + "…"
	}
	attrs := []any{"listener", listener, "where", where, "panic", val, "stack", string(stack)}
	if s, ok := v.(Stacker); ok {
		attrs = append(attrs, "origin_stack", string(s.PanicStack()))
	}
	r.log.ErrorContext(ctx, "panic in request handler, answered unavailable", attrs...)
}

// HTTP wraps h so that a panic answers 503 with a generic body and Cache-Control: no-store, after
// dropping every header the handler had set (an Authorization header included). If the handler had
// already started its answer, the connection is cut instead, so that no client takes half an answer for
// a whole one. http.ErrAbortHandler passes through untouched: it is how a handler asks for that cut.
func (r *Recoverer) HTTP(listener string, h http.Handler) http.Handler {
	counter := r.panics.WithLabelValues(listener)
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ww := &watchedWriter{ResponseWriter: w}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v)
			}
			r.record(req.Context(), counter, listener, req.URL.Path, v, debug.Stack())
			if ww.wrote {
				panic(http.ErrAbortHandler)
			}
			hdr := w.Header()
			clear(hdr)
			hdr.Set("Cache-Control", "no-store")
			hdr.Set("Content-Type", "text/plain; charset=utf-8")
			hdr.Set("X-Content-Type-Options", "nosniff")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, Body)
		}()
		h.ServeHTTP(ww, req)
	})
}

// watchedWriter notes whether the answer has started.
type watchedWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *watchedWriter) WriteHeader(code int) {
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *watchedWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *watchedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Fallback answers a unary gRPC call whose handler panicked: a response message, or an error.
type Fallback func(fullMethod string) (any, error)

// Unary returns an interceptor that turns a panic into fallback's answer (or, with a nil fallback, into
// ErrPanicked).
func (r *Recoverer) Unary(listener string, fallback Fallback) grpc.UnaryServerInterceptor {
	counter := r.panics.WithLabelValues(listener)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if v := recover(); v != nil {
				r.record(ctx, counter, listener, info.FullMethod, v, debug.Stack())
				resp, err = nil, ErrPanicked
				if fallback != nil {
					resp, err = fallback(info.FullMethod)
				}
			}
		}()
		return handler(ctx, req)
	}
}

// Stream returns an interceptor that turns a panic in a streaming handler into ErrPanicked.
func (r *Recoverer) Stream(listener string) grpc.StreamServerInterceptor {
	counter := r.panics.WithLabelValues(listener)
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
		defer func() {
			if v := recover(); v != nil {
				r.record(ss.Context(), counter, listener, info.FullMethod, v, debug.Stack())
				err = ErrPanicked
			}
		}()
		return handler(srv, ss)
	}
}
