package demo

import (
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// syncBuffer collects output from another goroutine and closes ready on the first write.
type syncBuffer struct {
	mu    sync.Mutex
	b     strings.Builder
	ready chan struct{}
	once  sync.Once
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.once.Do(func() { close(s.ready) })
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func seg(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestParseBearer(t *testing.T) {
	good := seg(`{"alg":"RS256"}`) + "." + seg(`{"sub":"auth0|alice","exp":1700000100,"iat":1700000000,"groups":["admin"]}`) + ".sig"
	tests := []struct {
		name       string
		header     string
		wantOK     bool
		wantSub    string
		wantGroups []string
	}{
		{name: "bearer jwt", header: "Bearer " + good, wantOK: true, wantSub: "auth0|alice", wantGroups: []string{"admin"}},
		{name: "scheme is case-insensitive", header: "bearer " + good, wantOK: true, wantSub: "auth0|alice", wantGroups: []string{"admin"}},
		{name: "empty", header: ""},
		{name: "basic auth", header: "Basic " + good},
		{name: "two segments", header: "Bearer a.b"},
		{name: "payload not base64url", header: "Bearer " + seg(`{}`) + ".***.sig"},
		{name: "payload not json", header: "Bearer " + seg(`{}`) + "." + seg("nope") + ".sig"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, ok := parseBearer(tt.header)
			require.Equal(t, tt.wantOK, ok)
			if !ok {
				return
			}
			require.Equal(t, tt.wantSub, b.claim("sub"))
			require.Equal(t, tt.wantGroups, b.groups())
			require.Equal(t, int64(1700000100), b.unix("exp"))
			require.Contains(t, b.Payload, "\n  \"sub\"", "payload is indented for the page")
		})
	}
}

func TestEcho(t *testing.T) {
	token := seg(`{"alg":"RS256"}`) + "." + seg(`{"sub":"auth0|bob","exp":1700000100,"iat":1700000000}`) + ".sig"
	e := newEcho("test front", 30*time.Second, slog.New(slog.DiscardHandler)).(*http.ServeMux)
	tests := []struct {
		name       string
		path       string
		auth       string
		wantStatus int
		wantType   string
		wantBody   []string
	}{
		{name: "whoami without a token is 401 json", path: "/api/whoami", wantStatus: 401, wantType: "application/json", wantBody: []string{`"error": "no bearer token"`}},
		{name: "whoami with a token", path: "/api/whoami", auth: "Bearer " + token, wantStatus: 200, wantType: "application/json",
			wantBody: []string{`"sub": "auth0|bob"`, `"email": "bob@example.org"`, `"verified": false`}},
		{name: "page with a token", path: "/anything", auth: "Bearer " + token, wantStatus: 200, wantType: "text/html; charset=utf-8",
			wantBody: []string{`id="sub">auth0|bob<`, `data-exp="1700000100"`, `data-ttl="100"`, "not verified", "test front"}},
		{name: "page without a token says so", path: "/", wantStatus: 200, wantType: "text/html; charset=utf-8",
			wantBody: []string{"did not come through the gateway"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tt.path, nil)
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			r.Header.Set("X-Auth-Request-Email", "bob@example.org")
			w := httptest.NewRecorder()
			e.ServeHTTP(w, r)
			require.Equal(t, tt.wantStatus, w.Code)
			require.Equal(t, tt.wantType, w.Header().Get("Content-Type"))
			for _, s := range tt.wantBody {
				require.Contains(t, w.Body.String(), s)
			}
		})
	}
}
