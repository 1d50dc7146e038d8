package authz_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/internal/logbuf"
	"github.com/authbridge/authbridge/pkg/authz"
	"github.com/authbridge/authbridge/pkg/devidp"
	"github.com/authbridge/authbridge/pkg/session"
)

// Users whose ID tokens carry a roles claim as Auth0 Actions add them: a list, a string, a number.
var (
	carol = devidp.User{Username: "carol", Password: "pw", Email: "carol@example.com", Claims: map[string]any{roles: []string{"viewer", "editor"}}}
	erin  = devidp.User{Username: "erin", Password: "pw", Email: "erin@example.com", Claims: map[string]any{roles: "editor"}}
	frank = devidp.User{Username: "frank", Password: "pw", Email: "frank@example.com", Claims: map[string]any{roles: 1}}
	dave  = devidp.User{Username: "dave", Password: "pw", Email: "dave@example.com", EmailUnverified: true}
)

// appPolicy is an estate on the test app host: public assets, an admin area, an editors' area, a page for
// two people, and a route only a gateway selects.
var appPolicy = authz.Policy{Routes: []authz.Route{
	{Name: "static", Host: enginetest.AppHost, Path: "/static/", Public: true},
	{Name: "admin", Path: "/admin", Require: authz.Rule{Groups: []string{"admin"}}},
	{Name: "editors", Path: "/edit", Require: authz.Rule{Claims: map[string][]string{roles: {"editor", "owner"}}}},
	{Name: "boss", Path: "/boss", Require: authz.Rule{Emails: []string{"dave@example.com", "alice@example.com"}}},
	{Name: "reports", Require: authz.Rule{EmailDomains: []string{"other.test"}}},
}}

// TestRoutePolicyWithSessions logs each user in through devidp and asks about each route: the claims,
// groups and addresses the rules use come from the verified ID token, through the session.
func TestRoutePolicyWithSessions(t *testing.T) {
	tests := []struct {
		uri, route string
		want       map[string]int // status by user; 200 allow
	}{
		{"/", "", map[string]int{"alice": 200, "bob": 200, "carol": 200, "erin": 200, "frank": 200, "dave": 200}},
		{"/admin/users", "", map[string]int{"alice": 200, "bob": 403, "carol": 403, "erin": 403, "frank": 403, "dave": 403}},
		{"/edit/doc", "", map[string]int{"alice": 403, "bob": 403, "carol": 200, "erin": 200, "frank": 403, "dave": 403}},
		{"/boss", "", map[string]int{"alice": 200, "bob": 403, "carol": 403, "erin": 403, "frank": 403, "dave": 403}},
		{"/anything", "reports", map[string]int{"alice": 403, "bob": 200, "carol": 403, "erin": 403, "frank": 403, "dave": 403}},
		{"/anything", "admin", map[string]int{"alice": 200, "bob": 403, "carol": 403, "erin": 403, "frank": 403, "dave": 403}},
		{"/static/app.js", "", map[string]int{"alice": 200, "bob": 200, "carol": 200, "erin": 200, "frank": 200, "dave": 200}},
	}
	for _, user := range []string{"alice", "bob", "carol", "erin", "frank", "dave"} {
		t.Run(user, func(t *testing.T) {
			env := enginetest.New(t, enginetest.Options{AutoLogin: user, Users: []devidp.User{carol, erin, frank, dave},
				Engine: authz.Options{Policy: appPolicy}})
			cookie, _ := env.Login(t, "/")
			for _, tt := range tests {
				req := fetch(tt.uri, cookie)
				req.Route = tt.route
				d, err := env.Engine.Decide(ctx, req)
				require.NoError(t, err)
				require.Equal(t, tt.want[user], d.Status, "%s %s: %s", tt.uri, tt.route, d.Reason)
				if d.Status == http.StatusForbidden {
					require.Equal(t, authz.Deny, d.Outcome)
					require.Nil(t, d.Upstream)
				}
			}
		})
	}
}

// fetch is a script's request on the app host.
func fetch(uri, cookie string) *authz.Request {
	return &authz.Request{Front: "test", Method: "GET", Scheme: "https", Host: enginetest.AppHost, URI: uri,
		Accept: "application/json", FetchMode: "cors", Cookie: cookie}
}

// readCountingStore counts reads of session records.
type readCountingStore struct {
	session.Store
	reads atomic.Int64
}

func (s *readCountingStore) Get(ctx context.Context, key string) ([]byte, error) {
	s.reads.Add(1)
	return s.Store.Get(ctx, key)
}

func TestPublicRoutes(t *testing.T) {
	store := &readCountingStore{Store: session.NewMemoryStore(time.Now)}
	env := enginetest.New(t, enginetest.Options{Store: store, Engine: authz.Options{Policy: appPolicy}})
	cookie, _ := env.Login(t, "/")
	nav := func(cookie string) *authz.Request { return enginetest.Navigate("/static/app.js", cookie) }
	nginx := nav("")
	nginx.NoRedirect = true
	post := fetch("/static/form", "")
	post.Method = "POST"
	tests := []struct {
		name string
		req  *authz.Request
	}{
		{"navigation without a cookie", nav("")},
		{"fetch without a cookie", fetch("/static/app.js", "")},
		{"POST without a cookie", post},
		{"nginx without a cookie", nginx},
		{"invalid cookie", nav("authbridge=not-a-ticket")},
		{"unknown session", fetch("/static/app.js", "authbridge="+newTicket(t))},
		{"valid session: no identity either", nav(cookie)},
		{"named by the gateway", &authz.Request{Method: "GET", Host: "elsewhere.test", URI: "/x", Route: "static"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := store.reads.Load()
			d, err := env.Engine.Decide(ctx, tt.req)
			require.NoError(t, err)
			require.Equal(t, authz.Allow, d.Outcome, d.Reason)
			require.Equal(t, http.StatusOK, d.Status)
			require.Empty(t, d.Cookies, "nothing set, nothing cleared")
			for _, h := range authz.IdentityHeaders() {
				require.Equal(t, []string{""}, d.Upstream.Values(h), "%s is set empty: the client's copy goes", h)
			}
			require.Equal(t, before, store.reads.Load(), "no session is read")
		})
	}
	t.Run("outside the public path a login is needed", func(t *testing.T) {
		d, err := env.Engine.Decide(ctx, enginetest.Navigate("/staticx", ""))
		require.NoError(t, err)
		require.Equal(t, authz.Redirect, d.Outcome)
	})
}

func TestRouteRefusals(t *testing.T) {
	var logs logbuf.Buffer
	env := enginetest.New(t, enginetest.Options{Engine: authz.Options{Policy: appPolicy,
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}})
	cookie, _ := env.Login(t, "/")
	tests := []struct {
		name    string
		req     *authz.Request
		status  int
		wantLog string
	}{
		{"unknown route name", &authz.Request{Front: "test", Method: "GET", Host: enginetest.AppHost, URI: "/", Route: "adminn", Cookie: cookie},
			http.StatusInternalServerError, `"level":"ERROR","msg":"the gateway named a route that policy.routes does not have","route":"adminn"`},
		{"unknown route name without a session", &authz.Request{Front: "test", Method: "GET", Host: enginetest.AppHost, URI: "/", Route: "nope", FetchMode: "navigate"},
			http.StatusInternalServerError, `"route":"nope"`},
		{"encoded slash", fetch("/static/..%2Fadmin/users?token=secret-in-query", cookie), http.StatusBadRequest, `"level":"WARN","msg":"request path refused: ambiguous or malformed"`},
		{"tomcat dot-segment", enginetest.Navigate("/static/..;/admin", ""), http.StatusBadRequest, `"level":"WARN"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := env.Engine.Decide(ctx, tt.req)
			require.NoError(t, err)
			require.Equal(t, authz.Deny, d.Outcome)
			require.Equal(t, tt.status, d.Status)
			require.Nil(t, d.Upstream)
			require.Contains(t, logs.String(), tt.wantLog)
		})
	}
	require.NotContains(t, logs.String(), "secret-in-query")
	_, value, _ := strings.Cut(cookie, "=")
	require.NotContains(t, logs.String(), value)
}

// TestSessionKeepsTheClaimsRulesName: the session records exactly the claims some rule names, a claim the
// token lacks as recorded-but-empty, and nothing when no rule names a claim (the record is then as before).
func TestSessionKeepsTheClaimsRulesName(t *testing.T) {
	tests := []struct {
		name   string
		policy authz.Policy
		user   devidp.User
		want   map[string][]string
	}{
		{"list claim", appPolicy, carol, map[string][]string{roles: {"viewer", "editor"}}},
		{"string claim", appPolicy, erin, map[string][]string{roles: {"editor"}}},
		{"number claim has no values", appPolicy, frank, map[string][]string{roles: nil}},
		{"absent claim is recorded empty", appPolicy, dave, map[string][]string{roles: nil}},
		{"no rule names a claim", authz.Policy{Groups: []string{"admin"}}, carol, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := enginetest.New(t, enginetest.Options{AutoLogin: tt.user.Username, Users: []devidp.User{tt.user},
				Engine: authz.Options{Policy: tt.policy}})
			cookie, _ := env.Login(t, "/")
			require.Equal(t, tt.want, loadSession(t, env, cookie).Claims)
		})
	}
}

func loadSession(t *testing.T, env *enginetest.Env, cookie string) *session.Session {
	t.Helper()
	_, value, _ := strings.Cut(cookie, "authbridge=")
	value, _, _ = strings.Cut(value, ";")
	tk, err := session.ParseTicket(value)
	require.NoError(t, err)
	s, err := env.Sessions.Load(ctx, tk)
	require.NoError(t, err)
	return s
}

// TestClaimRuleAddedLater: a session stored before any rule named a claim does not know it. The user is
// sent to log in again (not refused), and the new login, or a refresh, records it.
func TestClaimRuleAddedLater(t *testing.T) {
	withClaims := func(o *authz.Options) { o.Policy = appPolicy }
	t.Run("login again", func(t *testing.T) {
		env := enginetest.New(t, enginetest.Options{AutoLogin: "carol", Users: []devidp.User{carol}})
		cookie, _ := env.Login(t, "/")
		eng := env.ReplicaWith(t, withClaims)
		d, err := eng.Decide(ctx, fetch("/edit/doc", cookie))
		require.NoError(t, err)
		require.Equal(t, http.StatusUnauthorized, d.Status, d.Reason)
		d, err = eng.Decide(ctx, enginetest.Navigate("/edit/doc", cookie))
		require.NoError(t, err)
		require.Equal(t, authz.Redirect, d.Outcome, "a browser is sent to log in")
		cb := env.FollowToProvider(t, d.Location)
		d, err = eng.Decide(ctx, enginetest.Navigate(cb, enginetest.CookieHeader(d.Cookies)))
		require.NoError(t, err)
		require.Equal(t, authz.Redirect, d.Outcome, d.Reason)
		d, err = eng.Decide(ctx, fetch("/edit/doc", enginetest.CookieHeader(d.Cookies)))
		require.NoError(t, err)
		require.Equal(t, authz.Allow, d.Outcome, d.Reason)
	})
	t.Run("refresh records the claims", func(t *testing.T) {
		env := enginetest.New(t, enginetest.Options{AutoLogin: "carol", Users: []devidp.User{carol}, TokenTTL: 10 * time.Minute})
		cookie, _ := env.Login(t, "/")
		eng := env.ReplicaWith(t, withClaims)
		env.Clock.Advance(9*time.Minute + 30*time.Second)
		d, err := eng.Decide(ctx, fetch("/edit/doc", cookie))
		require.NoError(t, err)
		require.Equal(t, authz.Allow, d.Outcome, d.Reason)
		require.Equal(t, 1, env.IDP.Stats().TokenCalls["refresh_token"])
	})
	t.Run("a user without the claim is refused, not looped", func(t *testing.T) {
		env := enginetest.New(t, enginetest.Options{AutoLogin: "dave", Users: []devidp.User{dave}, Engine: authz.Options{Policy: appPolicy}})
		cookie, _ := env.Login(t, "/")
		d, err := env.Engine.Decide(ctx, enginetest.Navigate("/edit/doc", cookie))
		require.NoError(t, err)
		require.Equal(t, http.StatusForbidden, d.Status, d.Reason)
		require.Equal(t, "policy.routes[2] (editors): claim not satisfied", d.Reason)
	})
}
