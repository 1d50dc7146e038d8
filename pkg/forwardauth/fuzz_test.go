package forwardauth

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/authbridge/authbridge/pkg/authz"
)

// FuzzForwarded checks the forward-auth adapter on whatever a trusted gateway (or a client through
// it) may send: every refusal is a *authz.RequestError (a 400, never a 5xx or a panic), and an accepted
// request is a valid target (authz.CheckTarget) that is exactly what the mode's own source says — the
// other mode's headers, where given, agree with it.
func FuzzForwarded(f *testing.F) {
	f.Add("GET", "https", "app.example.test", "/dash?tab=2", "", "", false)
	f.Add("GET", "https", "app.example.test", "/dash", "GET", "https://app.example.test/dash", true)
	f.Add("POST", "HTTPS", "App.Example.Test", "/a,b?ids=1,2", "", "http://evil.test/", false)
	f.Add("", "", "", "", "GET", "https://app.example.test:8443/dash?tab=2", true)
	f.Add("GET", "https,http", "a.test,evil.test", "//evil.test", "get", "https://@evil.test", true)
	f.Add("GET", "wss", "[::1]:8443", "/x", "", "HTTPS://[::1]:8443", true)
	f.Add("GET ", "https", "app.example.test ", "/\\evil", "GET", "javascript://x/", false)
	h := NewGateway(nil, Options{TrustedProxies: trusted})
	f.Fuzz(func(t *testing.T, method, proto, host, uri, origMethod, origURL string, nginxFront bool) {
		r := httptest.NewRequest("GET", PathAuth, nil)
		r.RemoteAddr = proxyV4
		for k, v := range map[string]string{hdrMethod: method, hdrProto: proto, hdrHost: host, hdrURI: uri,
			hdrOriginalMtd: origMethod, hdrOriginalURL: origURL} {
			if v != "" {
				r.Header[k] = []string{v}
			}
		}
		front := authz.FrontForwardAuth
		if nginxFront {
			front = authz.FrontNginx
		}
		got, err := h.forwarded(r, front)
		if err != nil {
			var re *authz.RequestError
			if !errors.As(err, &re) {
				t.Fatalf("refusal %v is not a RequestError", err)
			}
			return
		}
		if err := authz.CheckTarget(got); err != nil {
			t.Fatalf("accepted an invalid target %+v: %v", got, err)
		}
		if nginxFront {
			if got.Method != origMethod || !strings.EqualFold(origURL, got.Scheme+"://"+got.Host+strings.TrimPrefix(got.URI, "/")) &&
				!strings.EqualFold(origURL, got.Scheme+"://"+got.Host+got.URI) {
				t.Fatalf("nginx: %+v is not X-Original-Method %q, X-Original-URL %q", got, origMethod, origURL)
			}
			if method != "" && method != got.Method || host != "" && !strings.EqualFold(host, got.Host) || uri != "" && uri != got.URI {
				t.Fatalf("nginx: accepted %+v beside disagreeing X-Forwarded-* (%q %q %q)", got, method, host, uri)
			}
			return
		}
		if got.Method != method || got.Host != host || got.URI != uri {
			t.Fatalf("forward-auth: %+v is not X-Forwarded-* (%q %q %q)", got, method, host, uri)
		}
		if s, ok := authz.Scheme(proto); !ok || s != got.Scheme {
			t.Fatalf("forward-auth: scheme %q from X-Forwarded-Proto %q", got.Scheme, proto)
		}
		if origMethod != "" && origMethod != got.Method {
			t.Fatalf("forward-auth: accepted beside a disagreeing X-Original-Method %q", origMethod)
		}
	})
}
