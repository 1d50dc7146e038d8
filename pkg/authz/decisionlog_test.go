package authz_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/internal/leaktest"
	"github.com/authbridge/authbridge/pkg/authz"
	"github.com/authbridge/authbridge/pkg/session"
)

// downStore is a store whose reads fail: the engine cannot decide.
type downStore struct{ session.Store }

func (downStore) Get(context.Context, string) ([]byte, error) {
	return nil, errors.New("redis: connection refused")
}

var logKeys = [][]byte{[]byte("0123456789abcdef0123456789abcdef-login-key")}

// decisionLines returns the "decision" lines of a JSON log.
func decisionLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		if m["msg"] == "decision" {
			out = append(out, m)
		}
	}
	return out
}

// TestDecisionLog: every decision writes one "decision" line with the fields an operator follows a
// request by; refusals at INFO, failures at ERROR, allowed requests at DEBUG; never a cookie, token,
// subject or e-mail in clear, and never the query.
func TestDecisionLog(t *testing.T) {
	var buf bytes.Buffer
	env := enginetest.New(t, enginetest.Options{Engine: authz.Options{
		Logger:    slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})),
		LoginKeys: logKeys,
		Policy: authz.Policy{Routes: []authz.Route{
			{Name: "ops", Host: enginetest.AppHost, Path: "/ops", Require: authz.Rule{Groups: []string{"ops"}}},
		}},
	}})
	cookie, _ := env.Login(t, "/")
	down := env.ReplicaWith(t, func(o *authz.Options) { o.Sessions = session.NewSessions(downStore{env.Store}) })
	aliceHash := env.Engine.SubjectHash(enginetest.Alice.Subject)
	require.Len(t, aliceHash, 16)

	var secrets leaktest.Secrets
	secrets.Add("cookie", strings.TrimPrefix(cookie, "authbridge="))
	secrets.AddSessionCookie("session", cookie[strings.Index(cookie, "=")+1:])
	secrets.Add("subject", enginetest.Alice.Subject)
	secrets.Add("e-mail", enginetest.Alice.Email)
	secrets.Add("query", "secret-query-value")

	json := func(r *authz.Request) *authz.Request { r.Accept, r.FetchMode = "application/json", "cors"; return r }
	withIDs := func(r *authz.Request) *authz.Request {
		r.RequestID, r.TraceParent = "gw-req-42", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
		return r
	}
	for _, tc := range []struct {
		name    string
		engine  *authz.Engine
		req     *authz.Request
		level   string
		outcome string
		status  float64
		reason  string
		route   string
		subject string
	}{
		{"navigation without a session", env.Engine, enginetest.Navigate("/page?code=secret-query-value", ""), "INFO", "redirect", 302, "no session cookie; login started", "", ""},
		{"API call without a session", env.Engine, json(enginetest.Navigate("/api", "")), "INFO", "deny", 401, "no session cookie", "", ""},
		{"malformed cookie", env.Engine, json(enginetest.Navigate("/api", "authbridge=not-a-ticket")), "INFO", "deny", 401, "malformed session cookie", "", ""},
		{"two session cookies", env.Engine, json(enginetest.Navigate("/api", cookie+"; "+cookie)), "INFO", "deny", 401, "several session cookies", "", ""},
		{"refused by the route's rule", env.Engine, enginetest.Navigate("/ops/x?q=secret-query-value", cookie), "INFO", "deny", 403,
			"policy.routes[0] (ops): not in an allowed group", "policy.routes[0] (ops)", aliceHash},
		{"gateway names an unknown route", env.Engine, func() *authz.Request { r := enginetest.Navigate("/", cookie); r.Route = "nope"; return r }(),
			"INFO", "deny", 500, "unknown route name", "nope", ""},
		{"store down", down, enginetest.Navigate("/", cookie), "ERROR", "error", 503, "cannot decide", "", ""},
		{"allowed", env.Engine, enginetest.Navigate("/", cookie), "DEBUG", "allow", 200, "valid session", "", aliceHash},
		{"gateway's request id and trace", env.Engine, withIDs(enginetest.Navigate("/ops", "")), "INFO", "redirect", 302, "no session cookie; login started",
			"policy.routes[0] (ops)", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			buf.Reset()
			_, _ = tc.engine.Decide(context.Background(), tc.req)
			lines := decisionLines(t, &buf)
			require.Len(t, lines, 1, "one decision line per decision:\n%s", buf.String())
			l := lines[0]
			require.Equal(t, tc.level, l["level"])
			require.Equal(t, tc.outcome, l["outcome"])
			require.Equal(t, tc.status, l["status"])
			require.Equal(t, tc.reason, l["reason"])
			require.Equal(t, tc.route, l["route"])
			require.Equal(t, tc.req.Front, l["front"])
			require.Equal(t, enginetest.AppHost, l["host"])
			require.Equal(t, strings.SplitN(tc.req.URI, "?", 2)[0], l["path"], "the path, never the query")
			require.Contains(t, l, "duration_ms")
			require.Equal(t, tc.req.RequestID, l["request_id"])
			if tc.req.TraceParent != "" {
				require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", l["trace_id"], "the gateway's trace, with tracing off")
			} else {
				require.Equal(t, "", l["trace_id"])
			}
			if tc.outcome != "error" {
				require.Equal(t, tc.subject, l["subject"])
			}
			secrets.Check(t, "log", buf.String())
		})
	}
}

// TestSubjectHash: the hash is keyed by the login keys, so replicas that share them agree and nobody
// without them can test a guess; no login keys, a random key per engine.
func TestSubjectHash(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{Engine: authz.Options{LoginKeys: logKeys}})
	sub := enginetest.Alice.Subject
	h := env.Engine.SubjectHash(sub)
	require.Regexp(t, "^[0-9a-f]{16}$", h)
	require.Equal(t, h, env.Replica(t).SubjectHash(sub), "replicas with the same keys agree")
	require.NotEqual(t, h, env.Engine.SubjectHash(enginetest.Bob.Subject))
	other := env.ReplicaWith(t, func(o *authz.Options) { o.LoginKeys = [][]byte{[]byte("another-login-key-of-32-bytes-or-more!!")} })
	require.NotEqual(t, h, other.SubjectHash(sub), "another key, another hash")
	none := env.ReplicaWith(t, func(o *authz.Options) { o.LoginKeys = nil })
	require.NotEqual(t, h, none.SubjectHash(sub))
	require.Equal(t, "", env.Engine.SubjectHash(""))
}

// TestRequestID: a gateway's id is kept when it looks like one; anything else (absent, too long, bytes
// that could forge a log field) is replaced by a generated one that the front returns.
func TestRequestID(t *testing.T) {
	for _, tc := range []struct {
		name, given string
		keep        bool
	}{
		{"Envoy's uuid", "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c", true},
		{"nginx $request_id", "f3c2a1b0e9d8c7b6a5f4e3d2c1b0a9f8", true},
		{"with . _ : +", "req_1.2:3+4", true},
		{"absent", "", false},
		{"65 bytes", strings.Repeat("a", 65), false},
		{"space", "a b", false},
		{"newline", "abc\n{\"level\":\"ERROR\"}", false},
		{"quote", `abc"def`, false},
		{"non-ASCII", "ïd", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, generated := authz.RequestID(tc.given)
			require.Equal(t, !tc.keep, generated)
			if tc.keep {
				require.Equal(t, tc.given, id)
				return
			}
			require.Regexp(t, "^[0-9a-f]{32}$", id)
			again, _ := authz.RequestID(tc.given)
			require.NotEqual(t, id, again, "each generated id is new")
		})
	}
}

// TestDecisionLogBoundsClientWords: the path and the gateway's route name are the client's (or the
// gateway's) words; a decision line carries at most a bounded prefix of each, so a 16 KiB path does not
// make a 16 KiB log line per refusal.
func TestDecisionLogBoundsClientWords(t *testing.T) {
	var buf bytes.Buffer
	env := enginetest.New(t, enginetest.Options{Engine: authz.Options{
		Logger: slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}})
	long := "/" + strings.Repeat("a", 16<<10)
	r := enginetest.Navigate(long, "")
	r.Route = strings.Repeat("r", 500)
	_, _ = env.Engine.Decide(context.Background(), r)
	lines := decisionLines(t, &buf)
	require.Len(t, lines, 1)
	path, route := lines[0]["path"].(string), lines[0]["route"].(string)
	require.Equal(t, long[:1024]+"…", path)
	require.Equal(t, strings.Repeat("r", 64)+"…", route)
	require.Less(t, buf.Len(), 2<<10, "the whole line stays small")
}
