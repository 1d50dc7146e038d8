package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// exposed scrapes /metrics and returns the body and its authbridge_* metric families by name → type.
func exposed(t *testing.T, inst *instance) (string, map[string]string) {
	t.Helper()
	code, body := get(t, inst.admin+"/metrics")
	require.Equal(t, 200, code)
	families := map[string]string{}
	for line := range strings.Lines(body) {
		if f := strings.Fields(line); len(f) == 4 && f[1] == "TYPE" && strings.HasPrefix(f[2], "authbridge_") {
			families[f[2]] = f[3]
		}
	}
	return body, families
}

var metricName = regexp.MustCompile(`\bauthbridge_[a-z0-9_]+`)

// queried returns the authbridge metrics a PromQL expression reads, a histogram's _bucket, _sum and
// _count series as the histogram's name.
func queried(expr string, families map[string]string) []string {
	var out []string
	for _, n := range metricName.FindAllString(expr, -1) {
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(n, suffix); ok && families[base] == "histogram" {
				n = base
			}
		}
		out = append(out, n)
	}
	return out
}

// TestMetricsReference: the metrics the binary serves after a login and a check are exactly those
// docs/metrics.md lists; every metric the Grafana dashboard and the alert rules query exists; build_info
// names this binary; and no label or value holds the session cookie, a secret or the user's e-mail.
func TestMetricsReference(t *testing.T) {
	inst := start(t, time.Hour)
	_, cookie := browserLogin(t, inst)
	require.Equal(t, 200, traefikAuth(t, inst, cookie, "text/html").StatusCode)
	// A forward-auth request without X-Forwarded-Method: the front refuses it (400) without the engine.
	req, _ := http.NewRequest("GET", inst.forwardAuth+"/auth", nil)
	req.Header.Set("X-Forwarded-Host", "app.test")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	body, families := exposed(t, inst)
	var served []string
	for n := range families {
		served = append(served, n)
	}
	root := filepath.Join("..", "..")

	t.Run("docs/metrics.md lists every metric, and no other", func(t *testing.T) {
		doc, err := os.ReadFile(filepath.Join(root, "docs", "metrics.md"))
		require.NoError(t, err)
		var documented []string
		row := regexp.MustCompile("(?m)^\\| `(authbridge_[a-z0-9_]+)` \\| (counter|gauge|histogram) \\|")
		for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
			documented = append(documented, m[1])
			require.Equal(t, families[m[1]], m[2], "type of %s", m[1])
		}
		require.ElementsMatch(t, served, documented)
	})

	t.Run("the dashboard queries only served metrics", func(t *testing.T) {
		raw, err := os.ReadFile(filepath.Join(root, "deploy", "grafana", "authbridge.json"))
		require.NoError(t, err)
		var dash any
		require.NoError(t, json.Unmarshal(raw, &dash))
		var exprs []string
		walkJSON(dash, func(k string, v any) {
			if s, ok := v.(string); ok && (k == "expr" || k == "definition") {
				exprs = append(exprs, s)
			}
		})
		require.NotEmpty(t, exprs)
		var used []string
		for _, e := range exprs {
			q := queried(e, families)
			require.NotEmpty(t, q, "expression queries no authbridge metric: %s", e)
			for _, n := range q {
				require.Contains(t, families, n, "dashboard expression %s", e)
			}
			used = append(used, q...)
		}
		for _, n := range []string{"authbridge_decisions_total", "authbridge_decision_duration_seconds", "authbridge_store_errors_total",
			"authbridge_provider_requests_total", "authbridge_refreshes_total", "authbridge_session_cache_lookups_total",
			"authbridge_logins_started_total", "authbridge_backchannel_logouts_total"} {
			require.Contains(t, used, n, "the dashboard shows %s", n)
		}
	})

	t.Run("the alert rules query only served metrics", func(t *testing.T) {
		raw, err := os.ReadFile(filepath.Join(root, "deploy", "prometheus", "alerts.yaml"))
		require.NoError(t, err)
		var rules struct {
			Groups []struct {
				Rules []struct {
					Alert, Expr string
				}
			}
		}
		require.NoError(t, yaml.Unmarshal(raw, &rules))
		require.NotEmpty(t, rules.Groups)
		for _, g := range rules.Groups {
			for _, r := range g.Rules {
				require.NotEmpty(t, r.Alert)
				q := queried(r.Expr, families)
				require.NotEmpty(t, q, r.Alert)
				for _, n := range q {
					require.Contains(t, families, n, "alert %s", r.Alert)
				}
			}
		}
	})

	t.Run("build info", func(t *testing.T) {
		require.Contains(t, body, `authbridge_build_info{go_version="`+runtime.Version()+`",revision="`)
		require.Regexp(t, `authbridge_build_info\{[^}]*version="`+version+`"\} 1\n`, body)
	})

	t.Run("a login and a refusal moved the counters", func(t *testing.T) {
		for _, want := range []string{
			"authbridge_logins_completed_total 1\n",
			`authbridge_decisions_total{front="forwardauth",outcome="allow",reason="session"} 1` + "\n",
			`authbridge_decisions_total{front="forwardauth",outcome="deny",reason="bad_request"} 1` + "\n",
			`authbridge_provider_requests_total{endpoint="token",result="ok"} 1` + "\n",
			`authbridge_provider_requests_total{endpoint="discovery",result="ok"}`,
		} {
			require.Contains(t, body, want)
		}
		require.Regexp(t, `authbridge_store_operation_duration_seconds_count\{operation="put"\} [1-9]`, body)
	})

	t.Run("no secret in any label or value", func(t *testing.T) {
		for _, secret := range []string{cookie.Value, testSecret, adminToken, testCookieSecret, "alice@example.com", "alice"} {
			require.NotContains(t, body, secret)
		}
	})
	require.True(t, slices.Contains(served, "authbridge_build_info"))
}

// walkJSON calls f for every member of every object under v.
func walkJSON(v any, f func(k string, v any)) {
	switch v := v.(type) {
	case map[string]any:
		for k, c := range v {
			f(k, c)
			walkJSON(c, f)
		}
	case []any:
		for _, c := range v {
			walkJSON(c, f)
		}
	}
}
