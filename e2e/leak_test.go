package e2e_test

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/authbridge/authbridge/internal/leaktest"
)

// secretsSeen is every secret the e2e tests come across, from every test of the run: the access tokens the
// upstreams receive, the session cookies the browsers and clients hold, the e-mail addresses Hydra puts
// in the tokens, and each authbridge's client and cookie secrets. Every authbridge's log is checked
// against all of them when its test ends (checkLog).
var secretsSeen leaktest.Secrets

// noteRequest records the secrets in a request that reached an upstream: its bearer token and, should
// one ever get through, authbridge's session cookie.
func noteRequest(h http.Header) {
	for _, v := range headerValues(h, "Authorization") {
		if tok, ok := strings.CutPrefix(v, "Bearer "); ok {
			secretsSeen.Add("access token", tok)
		}
	}
	for _, c := range (&http.Request{Header: h}).Cookies() {
		if c.Name == cookieName {
			secretsSeen.AddSessionCookie("session cookie", c.Value)
		}
	}
}

// checkLog fails t when the log of p holds any secret seen so far. It names the secret, never its value,
// and runs after p has stopped, so that the last lines are in.
func checkLog(t *testing.T, p *process) {
	t.Helper()
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		t.Errorf("read %s log: %v", p.name, err)
		return
	}
	secretsSeen.Check(t, p.name+" log", string(b))
}
