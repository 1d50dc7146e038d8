package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/pkg/authz"
	"github.com/authbridge/authbridge/pkg/login"
	"github.com/authbridge/authbridge/pkg/session"
)

// TestServeFinishesLoginsOfOtherReplicas: serve seals and opens pending logins with
// session.cookie.secret, so a login that another replica (with the same secret) started finishes
// here, and one sealed with any other key is refused.
func TestServeFinishesLoginsOfOtherReplicas(t *testing.T) {
	inst := start(t, time.Hour)
	ctx := context.Background()
	base, err := url.Parse(inst.http)
	require.NoError(t, err)
	p, err := login.New(ctx, login.Config{IssuerURL: inst.idpURL + "/", ClientID: "app", ClientSecret: testSecret,
		RedirectURL: inst.http + "/oauth2/callback", Scopes: []string{"openid", "email"}, Audience: "https://api.test"}, nil)
	require.NoError(t, err)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tests := []struct {
		name       string
		key        string
		wantStatus int
	}{
		{"same secret", testCookieSecret, http.StatusFound},
		{"another secret", strings.Repeat("x", 40), http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			other, err := authz.New(authz.Options{Sessions: session.NewSessions(session.NewMemoryStore(nil)), Provider: p,
				Cookie: authz.CookieOptions{Name: "authbridge"}, Redirects: authz.Domains{"127.0.0.1"},
				LoginKeys: [][]byte{[]byte(tt.key)}})
			require.NoError(t, err)
			d, err := other.Decide(ctx, &authz.Request{Method: "GET", Scheme: "http", Host: base.Host, URI: "/oauth2/start?rd=/after"})
			require.NoError(t, err)
			require.Equal(t, authz.Redirect, d.Outcome, d.Reason)
			resp, err := noFollow.Get(d.Location) // the provider logs alice in and sends the browser back
			require.NoError(t, err)
			resp.Body.Close()
			req, err := http.NewRequest("GET", resp.Header.Get("Location"), nil)
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(req.URL.String(), inst.http+"/oauth2/callback?"))
			req.AddCookie(d.Cookies[0])
			resp, err = noFollow.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, tt.wantStatus, resp.StatusCode)
			if tt.wantStatus == http.StatusFound {
				require.Equal(t, inst.http+"/after", resp.Header.Get("Location"))
			}
		})
	}
}
