package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// estateConfig is the three-app estate of the README's policy reference.
const estateConfig = `
oidc:
  issuer_url: https://tenant.eu.auth0.com/
  client_id: abc
  redirect_url: https://app.example.com/oauth2/callback
  groups_claim: https://example.com/groups
session:
  store: memory
policy:
  email_domains: [example.com]
  routes:
    - name: admin
      host: admin.example.com
      groups: [admin]
    - name: static
      host: app.example.com
      path: /static/
      public: true
    - name: api-write
      host: api.example.com
      methods: [POST, PUT, PATCH, DELETE]
      claims:
        "https://example.com/roles": [editor, owner]
    - name: api
      host: api.example.com
`

func writeTemp(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

func TestExplain(t *testing.T) {
	cfg := writeTemp(t, "estate.yaml", estateConfig)
	bob := writeTemp(t, "bob.json", `{"sub":"auth0|bob","email":"bob@example.com","email_verified":true,
		"https://example.com/groups":["staff"],"https://example.com/roles":["viewer"]}`)
	alice := writeTemp(t, "alice.json", `{"sub":"auth0|alice","email":"alice@example.com","email_verified":true,
		"https://example.com/groups":["admin"],"https://example.com/roles":"editor"}`)
	unverified := writeTemp(t, "mallory.json", `{"sub":"auth0|m","email":"mallory@example.com","email_verified":false}`)
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"route, no identity", []string{"--url", "https://admin.example.com/x"}, []string{
			"request:  GET https://admin.example.com/x\n", "path:     /x (normalised)\n", "rule:     policy.routes[0] (admin)\n",
			"requires: groups: one of [admin]\n", "decision: login required"}},
		{"failed requirement", []string{"--url", "https://admin.example.com/x", "--claims", bob}, []string{
			"identity: sub auth0|bob, 1 groups", "  [fail] groups: one of [admin]: groups [staff]\n", "decision: 403 forbidden"}},
		{"passed requirement", []string{"--url", "https://admin.example.com/x", "--claims", alice}, []string{
			"  [pass] groups: one of [admin]: groups [admin]\n", "decision: 200 allowed"}},
		{"method selects the route", []string{"--method", "post", "--url", "https://api.example.com/items", "--claims", bob}, []string{
			"request:  POST ", "rule:     policy.routes[2] (api-write)\n", "  [fail] claim https://example.com/roles: one of [editor owner]: values [viewer]\n", "decision: 403"}},
		{"string claim", []string{"--method", "DELETE", "--url", "https://api.example.com/items/1", "--claims", alice}, []string{
			"  [pass] claim https://example.com/roles: one of [editor owner]: values [editor]\n", "decision: 200 allowed"}},
		{"GET falls through to the next route", []string{"--url", "https://api.example.com/items", "--claims", bob}, []string{
			"rule:     policy.routes[3] (api)\n", "decision: 200 allowed"}},
		{"public after normalisation", []string{"--url", "https://APP.example.com/%73tatic//a.css"}, []string{
			"path:     /static/a.css (normalised)\n", "rule:     policy.routes[1] (static)\n", "decision: 200 allowed without login (public route)"}},
		{"unverified address", []string{"--url", "https://app.example.com/admin", "--claims", unverified}, []string{
			"rule:     the default rule", "  [fail] email: at one of [example.com]: no verified, well-formed address\n", "decision: 403"}},
		{"refused by the fronts", []string{"--url", "https://app.example.com/static/../admin"}, []string{
			"decision: 400 bad request: every front refuses this request before any rule (path has a . or .. segment)"}},
		{"refused by the fronts: trailing dot", []string{"--url", "https://app.example.com./static/a.css"}, []string{"decision: 400 bad request: every front"}},
		{"refused by the policy", []string{"--url", "https://app.example.com/static/a%0a.css"}, []string{
			"decision: 400 bad request: servers read this path differently"}},
		{"default rule", []string{"--url", "https://wiki.example.com/", "--claims", bob}, []string{
			"rule:     the default rule (policy.email_domains, policy.groups)\n", "  [pass] email: at one of [example.com]: the verified address (at example.com) is allowed\n"}},
		{"named route", []string{"--url", "https://x.test/", "--route", "admin"}, []string{"named by the gateway"}},
		{"unknown route name", []string{"--url", "https://x.test/", "--route", "nope"}, []string{`no route is named "nope"`, "decision: 500"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := runMain(context.Background(), append([]string{"explain", "--config", cfg}, tt.args...), &out, &errb)
			require.Equal(t, 0, code, errb.String())
			for _, w := range tt.want {
				require.Contains(t, out.String(), w)
			}
			require.NotContains(t, out.String(), "bob@example.com", "the address is never printed")
			require.NotContains(t, out.String(), "alice@example.com")
		})
	}
}

func TestExplainErrors(t *testing.T) {
	cfg := writeTemp(t, "estate.yaml", estateConfig)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no url", []string{"explain", "--config", cfg}, 2, "--url must be an absolute http or https URL"},
		{"relative url", []string{"explain", "--config", cfg, "--url", "/x"}, 2, "--url must be"},
		{"userinfo", []string{"explain", "--config", cfg, "--url", "https://a@b.test/"}, 2, "no plain host"},
		{"bad flag", []string{"explain", "--colour"}, 2, "flag provided but not defined"},
		{"missing claims file", []string{"explain", "--config", cfg, "--url", "https://a.test/", "--claims", "/nonexistent.json"}, 1, "read claims"},
		{"claims not JSON", []string{"explain", "--config", cfg, "--url", "https://a.test/", "--claims", writeTemp(t, "c.json", "sub: x")}, 1, "read claims"},
		{"bad config", []string{"explain", "--config", writeTemp(t, "bad.yaml", "policy:\n  routes: [{hots: x}]\n"), "--url", "https://a.test/"}, 1, "policy.routes[0]: hots"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			require.Equal(t, tt.code, runMain(context.Background(), tt.args, &out, &errb))
			require.Contains(t, errb.String(), tt.want)
		})
	}
}

// TestCheckConfigPolicy: check-config names a route that no request can reach, and warns about one that
// only a gateway naming it can.
func TestCheckConfigPolicy(t *testing.T) {
	base := `
oidc:
  issuer_url: https://tenant.eu.auth0.com/
  client_id: abc
  redirect_url: https://app.example.com/oauth2/callback
session:
  store: memory
policy:
  routes:
`
	tests := []struct {
		name     string
		routes   string
		code     int
		wantOut  string
		wantErr  string
		notInErr string
	}{
		{"estate", "    - {name: admin, host: admin.example.com, groups: [admin]}\n    - {path: /static/, public: true}\n", 0, "2 policy routes", "", "warning"},
		{"shadowed", "    - {path: /, public: true}\n    - {host: admin.example.com, groups: [admin]}\n", 1, "",
			"policy.routes[1] is unreachable: policy.routes[0] before it matches every request it would", ""},
		{"shadowed by a wildcard", "    - {name: t, host: '*.example.com', path: /api}\n    - {host: a.example.com, path: /api/v2, methods: [GET]}\n", 1, "",
			"policy.routes[1] is unreachable: policy.routes[0] (t) before it", ""},
		{"shadowed but named", "    - {name: all, path: /, groups: [staff]}\n    - {name: admin, path: /admin, groups: [admin]}\n", 0, "configuration OK",
			"warning: policy.routes[1] (admin) is unreachable: policy.routes[0] (all) before it matches every request it would; only a gateway naming it can select it", ""},
		{"malformed", "    - {name: x, path: api}\n", 1, "", `policy.routes[0] (x): path "api"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := writeTemp(t, "c.yaml", base+tt.routes)
			var out, errb bytes.Buffer
			require.Equal(t, tt.code, runMain(context.Background(), []string{"check-config", "--config", cfg}, &out, &errb), errb.String())
			require.Contains(t, out.String(), tt.wantOut)
			require.Contains(t, errb.String(), tt.wantErr)
			if tt.notInErr != "" {
				require.NotContains(t, errb.String(), tt.notInErr)
			}
		})
	}
}

// TestREADMEPolicyExample runs the README's explain session on the README's policy and claims: the
// worked example says what authbridge does.
func TestREADMEPolicyExample(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	readme := string(b)
	block := func(lang, marker string) string {
		t.Helper()
		for _, m := range regexp.MustCompile("(?s)```"+lang+"\n(.*?)```").FindAllStringSubmatch(readme, -1) {
			if strings.Contains(m[1], marker) {
				return m[1]
			}
		}
		t.Fatalf("README has no %s block with %q", lang, marker)
		return ""
	}
	dir := t.TempDir()
	policy := block("yaml", "name: api-write")
	cfg := "oidc:\n  issuer_url: https://tenant.eu.auth0.com/\n  client_id: abc\n  redirect_url: https://app.example.com/oauth2/callback\n" +
		"  groups_claim: https://example.com/groups\nsession:\n  store: memory\n" + policy
	require.NoError(t, os.WriteFile(filepath.Join(dir, "authbridge.yaml"), []byte(cfg), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bob.json"), []byte(block("json", `"sub": "auth0|bob"`)), 0o600))
	t.Chdir(dir)
	session := block("console", "$ authbridge explain")
	runs := strings.Split(session, "$ authbridge ")[1:]
	require.GreaterOrEqual(t, len(runs), 5)
	for _, run := range runs {
		line, want, _ := strings.Cut(run, "\n")
		t.Run(line, func(t *testing.T) {
			var out, errb bytes.Buffer
			require.Equal(t, 0, runMain(context.Background(), strings.Fields(line), &out, &errb), errb.String())
			require.Equal(t, want, out.String())
		})
	}
}
