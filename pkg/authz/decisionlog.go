package authz

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	mrand "math/rand/v2"
	"time"
)

// HeaderRequestID is the request id header: read from the gateway, and returned to it when the front had
// to make one up.
const HeaderRequestID = "X-Request-Id"

// maxRequestID bounds a gateway's request id; a longer one, or one with other bytes than RequestID
// accepts, is replaced rather than logged.
const maxRequestID = 64

// RequestID returns the id the decision log names a request by: the gateway's (Envoy's x-request-id, or
// what a gateway sets as X-Request-Id) when it is up to 64 bytes of letters, digits and - _ . : +,
// otherwise a new random one, with generated true so that the front can return it to the gateway. The
// id only correlates log lines, so a fast non-cryptographic generator will do.
func RequestID(given string) (id string, generated bool) {
	if validRequestID(given) {
		return given, false
	}
	var b [16]byte
	for i := 0; i < len(b); i += 8 {
		v := mrand.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return hex.EncodeToString(b[:]), true
}

func validRequestID(s string) bool {
	if s == "" || len(s) > maxRequestID {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':' || c == '+') {
			return false
		}
	}
	return true
}

// subjectKey keys the subject hash of the decision log. It derives from the first login key, so that
// every replica (which must share the login keys) writes the same hash for the same user and an operator
// can follow one user across replicas; without login keys (one process, memory store) it is random. A
// keyed hash rather than a plain one because subjects are easy to guess (Auth0's "auth0|<id>", some
// providers' e-mail address): a plain hash could be reversed by hashing candidates, a keyed one only by
// someone who holds the key, and that someone can read the sessions anyway.
func subjectKey(loginKeys [][]byte) []byte {
	if len(loginKeys) > 0 {
		m := hmac.New(sha256.New, loginKeys[0])
		m.Write([]byte("authbridge decision log subject hash v1"))
		return m.Sum(nil)
	}
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}

// subjectHash is the decision log's name for a subject: 16 hex digits of HMAC-SHA256 under the engine's
// subject key; "" for no subject.
func (e *Engine) subjectHash(subject string) string {
	if subject == "" {
		return ""
	}
	m := hmac.New(sha256.New, e.subjectKey)
	m.Write([]byte(subject))
	return hex.EncodeToString(m.Sum(nil)[:8])
}

// SubjectHash is the subject hash the decision log writes for subject, for tools that look one user up.
func (e *Engine) SubjectHash(subject string) string { return e.subjectHash(subject) }

// logDecision writes the decision log: one line per decision, "decision", at info when the request was
// refused (redirected to log in, or denied), at error when the engine could not decide, and at debug when
// it was allowed. It never holds a token, cookie value, session id or e-mail: the subject is hashed and
// the path is without its query.
func (e *Engine) logDecision(ctx context.Context, r *Request, d *Decision, err error, start time.Time) {
	level := slog.LevelInfo
	switch {
	case err != nil:
		level = slog.LevelError
	case d.Outcome == Allow:
		level = slog.LevelDebug
	}
	if !e.log.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 14)
	attrs = append(attrs,
		slog.String("request_id", r.RequestID),
		slog.String("trace_id", traceID(ctx, r)),
		slog.String("front", r.Front),
		slog.String("method", r.Method),
		slog.String("host", clip(r.Host, maxLoggedHost)),
		slog.String("path", clip(pathOf(r.URI), maxLoggedPath)),
	)
	route := clip(r.Route, maxLoggedRoute) // the gateway's word: it may name a route the policy lacks
	if err != nil {
		attrs = append(attrs, slog.String("outcome", "error"), slog.Int("status", 503), slog.String("reason", "cannot decide"),
			slog.String("route", route), slog.String("err", err.Error()))
	} else {
		if d.route != nil {
			route = d.route.label()
		}
		attrs = append(attrs, slog.String("outcome", d.Outcome.String()), slog.Int("status", d.Status),
			slog.String("reason", d.Reason), slog.String("route", route), slog.String("subject", e.subjectHash(d.subject)))
	}
	attrs = append(attrs, slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000))
	e.log.LogAttrs(ctx, level, "decision", attrs...)
}

// Bounds on the client's words in a decision line: a request may carry a path of tens of KiB (the
// listeners allow 64 KiB of headers), and a log line per refusal must not grow with it.
const (
	maxLoggedHost = 256
	maxLoggedPath = 1024
)

// clip cuts s to at most n bytes, marking the cut with "…".
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
