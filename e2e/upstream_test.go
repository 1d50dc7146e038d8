package e2e_test

import (
	"context"
	"encoding/json"
	"html/template"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// seen is one request as the upstream received it.
type seen struct {
	Method string
	URI    string
	Header http.Header
}

// upstream is the app behind the gateway: it records every request with every header it received and
// shows them on a page.
type upstream struct {
	addr string // host:port
	mu   sync.Mutex
	reqs []seen
}

var echoPage = template.Must(template.New("echo").Parse(`<!doctype html>
<title>echo</title>
<p id="uri">{{.URI}}</p>
<pre id="headers">{{.Headers}}</pre>`))

// startUpstream runs an upstream on a free port until the test ends.
func startUpstream(t *testing.T) *upstream {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	u := &upstream{addr: l.Addr().String()}
	srv := &http.Server{Handler: http.HandlerFunc(u.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return u
}

func (u *upstream) serve(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.reqs = append(u.reqs, seen{Method: r.Method, URI: r.RequestURI, Header: r.Header.Clone()})
	u.mu.Unlock()
	noteRequest(r.Header)
	headers, _ := json.MarshalIndent(r.Header, "", "  ")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = echoPage.Execute(w, map[string]string{"URI": r.RequestURI, "Headers": string(headers)})
}

// last returns the latest request for uri (path and query), if there was one.
func (u *upstream) last(uri string) (seen, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for i := len(u.reqs) - 1; i >= 0; i-- {
		if u.reqs[i].URI == uri {
			return u.reqs[i], true
		}
	}
	return seen{}, false
}

// count returns how many requests the upstream has received.
func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.reqs)
}

// headerValues returns the values of every header whose name is canonical in some spelling a proxy or
// framework may map onto it: any case, '_' or '.' for '-'.
func headerValues(h http.Header, canonical string) []string {
	var vs []string
	for k, v := range h {
		if sameHeaderName(k, canonical) {
			vs = append(vs, v...)
		}
	}
	return vs
}

func sameHeaderName(a, b string) bool {
	norm := func(s string) string { return strings.ToLower(strings.NewReplacer("_", "-", ".", "-").Replace(s)) }
	return norm(a) == norm(b)
}
