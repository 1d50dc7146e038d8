package authz_test

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/internal/logbuf"
	"github.com/authbridge/authbridge/pkg/authz"
	"github.com/authbridge/authbridge/pkg/session"
)

// requireClears checks that cookies is exactly the deletion of the session cookie "authbridge", with
// the attributes it is set with, or empty.
func requireClears(t *testing.T, cookies []*http.Cookie, want bool) {
	t.Helper()
	if !want {
		require.Empty(t, cookies, "the session cookie is left alone")
		return
	}
	require.Len(t, cookies, 1)
	require.Equal(t, "authbridge=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax", cookies[0].String())
}

// seed stores a session for subject and returns its cookie value.
func seed(t *testing.T, env *enginetest.Env, subject string) string {
	t.Helper()
	tk, err := session.NewTicket()
	require.NoError(t, err)
	now := env.Clock.Now()
	require.NoError(t, env.Sessions.Save(ctx, tk, &session.Session{Subject: subject, AccessToken: subject + "-token",
		Expiry: now.Add(time.Hour), CreatedAt: now, Touched: now}, time.Hour))
	return tk.String()
}

// What a Cookie header comes to.
type cookieVerdict int

const (
	asAlice      cookieVerdict = iota + 1 // allowed as alice, no cookie set
	deadClear                             // no session, and the one session cookie is cleared
	noneKept                              // no session, nothing cleared (none, or several, session cookies)
	headerTooBig                          // 431 before any lookup
)

// TestSessionCookieStrict is rule 3 at the engine: which Cookie headers name a session, which are
// ambiguous or dead, and what each request shape gets back.
func TestSessionCookieStrict(t *testing.T) {
	var logs logbuf.Buffer
	env := enginetest.New(t, enginetest.Options{Engine: authz.Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}})
	alice, bob := seed(t, env, "alice"), seed(t, env, "bob")
	many := make([]string, 5000)
	for i := range many {
		many[i] = "c" + string(rune('a'+i%26)) + "=1"
	}
	fill := func(n int) string { // a Cookie header of exactly n bytes that carries alice's session
		h := "authbridge=" + alice + "; pad="
		return h + strings.Repeat("p", n-len(h))
	}
	tests := []struct {
		name   string
		cookie string
		want   cookieVerdict
	}{
		{"one session cookie", "authbridge=" + alice, asAlice},
		{"review: bob's session tossed ahead of alice's", "authbridge=" + bob + "; authbridge=" + alice, noneKept},
		{"two without a space", "authbridge=" + alice + ";authbridge=" + bob, noneKept},
		{"the same session twice", "authbridge=" + alice + "; authbridge=" + alice, noneKept},
		{"split Cookie headers, as the fronts join them", "authbridge=" + alice + "; theme=dark; authbridge=" + bob, noneKept},
		{"case variant is another cookie", "authbridge=" + alice + "; Authbridge=" + bob, asAlice},
		{"case variant alone is no session", "Authbridge=" + alice, noneKept},
		{"upper case alone is no session", "AUTHBRIDGE=" + alice, noneKept},
		{"comma: a list folded by a proxy", "authbridge=" + alice + ", authbridge=" + bob, noneKept},
		{"comma: folded into another cookie's value", "authbridge=" + alice + "; theme=dark, authbridge=" + bob, noneKept},
		{"comma: folded session alone is unusable", "theme=dark,authbridge=" + alice, deadClear},
		{"comma in the value", "authbridge=" + alice + ",x", deadClear},
		{"quoted value", `authbridge="` + alice + `"`, deadClear},
		{"empty value", "authbridge=", deadClear},
		{"empty value next to a session", "authbridge=; authbridge=" + alice, noneKept},
		{"space before =", "authbridge =" + alice, deadClear},
		{"space after =", "authbridge= " + alice, deadClear},
		{"spaced name next to a session", "authbridge=" + alice + "; authbridge =" + bob, noneKept},
		{"tab as separator space", "theme=dark;\tauthbridge=" + alice, asAlice},
		{"no space after ;", "theme=dark;authbridge=" + alice, asAlice},
		{"trailing ;", "authbridge=" + alice + ";", asAlice},
		{"nameless cookie with our name as its value", "authbridge", noneKept},
		{"nameless cookie next to a session", "authbridge; authbridge=" + alice, asAlice},
		{"__Host- variant is another cookie", "__Host-authbridge=" + bob + "; authbridge=" + alice, asAlice},
		{"NUL in the value", "authbridge=" + alice + "\x00", deadClear},
		{"NUL in a name", "authbridge\x00=" + bob + "; authbridge=" + alice, asAlice},
		{"pending logins next to the session", "authbridge-login-AAAAAAAA=" + bob + "; authbridge=" + alice +
			"; authbridge-login-BBBBBBBB=x; authbridge-login=y", asAlice},
		{"pending login alone is no session", "authbridge-login-AAAAAAAA=" + alice, noneKept},
		{"longer name", "authbridgex=" + alice, noneKept},
		{"ticket one character too long", "authbridge=" + alice + "A", deadClear},
		{"ticket with base64 padding", "authbridge=" + alice + "==", deadClear},
		{"ticket in standard base64", "authbridge=" + strings.NewReplacer("-", "+", "_", "/").Replace(alice) + "+/", deadClear},
		{"unknown ticket", "authbridge=" + newTicket(t), deadClear},
		{"header of exactly MaxCookieHeader", fill(authz.MaxCookieHeader), asAlice},
		{"one byte over MaxCookieHeader", fill(authz.MaxCookieHeader + 1), headerTooBig},
		{"5000 small cookies", strings.Join(many, "; ") + "; authbridge=" + alice, headerTooBig},
		{"one 9 KiB cookie", "big=" + strings.Repeat("x", 9<<10) + "; authbridge=" + alice, headerTooBig},
	}
	shapes := []struct {
		name string
		req  func(cookie string) *authz.Request
	}{
		{"navigation", func(c string) *authz.Request { return enginetest.Navigate("/dash", c) }},
		{"fetch", func(c string) *authz.Request {
			return &authz.Request{Method: "GET", Scheme: "https", Host: enginetest.AppHost, URI: "/api", Accept: "application/json", FetchMode: "cors", Cookie: c}
		}},
		{"nginx", func(c string) *authz.Request {
			r := enginetest.Navigate("/dash", c)
			r.NoRedirect = true
			return r
		}},
	}
	for _, tt := range tests {
		for _, sh := range shapes {
			t.Run(tt.name+"/"+sh.name, func(t *testing.T) {
				d, err := env.Engine.Decide(ctx, sh.req(tt.cookie))
				require.NoError(t, err)
				require.NotContains(t, d.Body+d.Location+d.Reason, alice)
				require.NotContains(t, d.Body+d.Location+d.Reason, bob)
				switch tt.want {
				case asAlice:
					require.Equal(t, authz.Allow, d.Outcome, d.Reason)
					require.Equal(t, "Bearer alice-token", d.Upstream.Get("Authorization"))
					require.Empty(t, d.Cookies, "an allowed answer sets no cookie")
				case headerTooBig:
					require.Equal(t, authz.Deny, d.Outcome)
					require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, d.Status)
					require.Empty(t, d.Cookies)
				default:
					clear := tt.want == deadClear
					if sh.name == "navigation" {
						require.Equal(t, authz.Redirect, d.Outcome, d.Reason)
						var session []*http.Cookie
						for _, c := range d.Cookies {
							if c.Name == "authbridge" {
								session = append(session, c)
							}
						}
						require.Regexp(t, `^authbridge-login-`, d.Cookies[len(d.Cookies)-len(session)-1].Name, "the new login's cookie")
						requireClears(t, session, clear)
						return
					}
					require.Equal(t, authz.Deny, d.Outcome)
					require.Equal(t, http.StatusUnauthorized, d.Status)
					requireClears(t, d.Cookies, clear)
				}
			})
		}
	}
	require.Contains(t, logs.String(), "several session cookies")
	require.Contains(t, logs.String(), "cookie header too large")
	require.NotContains(t, logs.String(), alice, "no log line holds a cookie value")
	require.NotContains(t, logs.String(), bob)
}

// TestHostPrefixedCookie: with the default "__Host-" name, plain and case-variant names are other
// cookies, so a sibling domain (which cannot set a __Host- cookie) can neither swap nor cancel the session.
func TestHostPrefixedCookie(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{Engine: authz.Options{Cookie: authz.CookieOptions{Name: "__Host-authbridge", Secure: true}}})
	alice, bob := seed(t, env, "alice"), seed(t, env, "bob")
	tests := []struct {
		name, cookie string
		wantAllow    bool
	}{
		{"the session", "__Host-authbridge=" + alice, true},
		{"plain name tossed ahead", "authbridge=" + bob + "; __Host-authbridge=" + alice, true},
		{"lower-case prefix tossed ahead", "__host-authbridge=" + bob + "; __Host-authbridge=" + alice, true},
		{"plain name alone", "authbridge=" + alice, false},
		{"two __Host- cookies", "__Host-authbridge=" + alice + "; __Host-authbridge=" + bob, false},
		{"pending login of the __Host- name", "__Host-authbridge-login-AAAAAAAA=" + bob + "; __Host-authbridge=" + alice, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := env.Engine.Decide(ctx, &authz.Request{Method: "GET", Scheme: "https", Host: enginetest.AppHost, URI: "/api", Cookie: tt.cookie})
			require.NoError(t, err)
			if tt.wantAllow {
				require.Equal(t, authz.Allow, d.Outcome, d.Reason)
				require.Equal(t, "Bearer alice-token", d.Upstream.Get("Authorization"))
				return
			}
			require.Equal(t, http.StatusUnauthorized, d.Status)
			require.Empty(t, d.Cookies, "no session cookie of this name, or several: nothing to clear")
		})
	}
}

// TestDeadSessionCleared: a session cookie that outlived its session is cleared wherever the answer is
// "no session"; a refusal by policy keeps it.
func TestDeadSessionCleared(t *testing.T) {
	tests := []struct {
		name      string
		lifetimes authz.Lifetimes
		policy    authz.Policy
		revoke    bool // the provider refuses the session's refresh token
		advance   time.Duration
		wantClear bool
	}{
		{"absolute lifetime reached", authz.Lifetimes{Idle: 100 * time.Hour, Max: time.Hour, Login: time.Minute}, authz.Policy{}, false, time.Hour, true},
		{"idle timeout (gone from the store)", authz.Lifetimes{Idle: time.Hour, Max: 100 * time.Hour, Login: time.Minute}, authz.Policy{}, false, 61 * time.Minute, true},
		{"access token expired, refresh refused", authz.Lifetimes{Idle: 100 * time.Hour, Max: 100 * time.Hour, Login: time.Minute}, authz.Policy{}, true, 2 * time.Hour, true},
		{"refused by policy keeps the session", authz.Lifetimes{}, authz.Policy{Groups: []string{"nobody"}}, false, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := enginetest.New(t, enginetest.Options{Engine: authz.Options{Lifetimes: tt.lifetimes, Policy: tt.policy}})
			cookie, _ := env.Login(t, "/")
			if tt.revoke {
				env.IDP.RevokeUser(enginetest.Alice.Subject)
			}
			env.Clock.Advance(tt.advance)
			d, err := env.Engine.Decide(ctx, &authz.Request{Method: "GET", Scheme: "https", Host: enginetest.AppHost, URI: "/api", Cookie: cookie})
			require.NoError(t, err)
			if !tt.wantClear {
				require.Equal(t, http.StatusForbidden, d.Status)
				require.Empty(t, d.Cookies)
				return
			}
			require.Equal(t, http.StatusUnauthorized, d.Status, d.Reason)
			requireClears(t, d.Cookies, true)
		})
	}
}
