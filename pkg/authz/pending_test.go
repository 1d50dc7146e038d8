package authz_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/pkg/authz"
)

// browser holds cookies as a browser does: Set-Cookie adds or replaces by name, Max-Age < 0 deletes.
type browser struct {
	names  []string
	values map[string]string
}

func newBrowser() *browser { return &browser{values: map[string]string{}} }

func (b *browser) apply(cs []*http.Cookie) {
	for _, c := range cs {
		_, had := b.values[c.Name]
		switch {
		case c.MaxAge < 0:
			delete(b.values, c.Name)
		case !had:
			b.names = append(b.names, c.Name)
			fallthrough
		default:
			b.values[c.Name] = c.Value
		}
	}
}

func (b *browser) header() string {
	var parts []string
	for _, n := range b.names {
		if v, ok := b.values[n]; ok {
			parts = append(parts, n+"="+v)
		}
	}
	return strings.Join(parts, "; ")
}

// pending returns the names of the pending-login cookies the browser holds.
func (b *browser) pending() []string {
	var out []string
	for _, n := range b.names {
		if _, ok := b.values[n]; ok && strings.HasPrefix(n, "authbridge-login-") {
			out = append(out, n)
		}
	}
	return out
}

// startLogin navigates the browser to uri without a session and returns the callback URI the provider
// sends it back to.
func startLogin(t *testing.T, env *enginetest.Env, b *browser, uri string) string {
	t.Helper()
	d, err := env.Engine.Decide(ctx, enginetest.Navigate(uri, b.header()))
	require.NoError(t, err)
	require.Equal(t, authz.Redirect, d.Outcome, d.Reason)
	b.apply(d.Cookies)
	return env.FollowToProvider(t, d.Location)
}

// finish sends the callback from browser cookies and returns the decision.
func finish(t *testing.T, e *authz.Engine, cookie, cb string) *authz.Decision {
	t.Helper()
	d, err := e.Decide(ctx, enginetest.Navigate(cb, cookie))
	require.NoError(t, err)
	return d
}

// requireBadLogin: the callback is refused with 400 and no session cookie is set.
func requireBadLogin(t *testing.T, d *authz.Decision) {
	t.Helper()
	require.Equal(t, authz.Deny, d.Outcome, d.Reason)
	require.Equal(t, http.StatusBadRequest, d.Status, d.Reason)
	require.Contains(t, d.Body, "this login link has expired or was already used")
	for _, c := range d.Cookies {
		require.NotEqual(t, "authbridge", c.Name, "no session for a refused callback")
		require.Negative(t, c.MaxAge, "a refused callback only clears cookies")
	}
}

func TestPendingLoginCookie(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{})
	d, err := env.Engine.Decide(ctx, enginetest.Navigate("/oauth2/start?rd=/private-MARKER-path", ""))
	require.NoError(t, err)
	require.Len(t, d.Cookies, 1)
	c := d.Cookies[0]
	u, err := url.Parse(d.Location)
	require.NoError(t, err)
	state, nonce := u.Query().Get("state"), u.Query().Get("nonce")
	require.Regexp(t, `^authbridge-login-[A-Za-z0-9_-]{8}$`, c.Name, "one cookie per login, named by its state")
	require.NotContains(t, c.Name, state[:8])
	require.True(t, c.HttpOnly)
	require.True(t, c.Secure)
	require.Equal(t, http.SameSiteLaxMode, c.SameSite)
	require.Equal(t, "/", c.Path)
	require.Empty(t, c.Domain)
	require.Equal(t, 600, c.MaxAge, "lives as long as the login may take")
	for _, clear := range []string{"MARKER", nonce, state} {
		require.NotContains(t, c.Value, clear, "the pending login is sealed")
	}
	require.Less(t, len(c.Name)+len(c.Value), 400)

	host := enginetest.New(t, enginetest.Options{Engine: authz.Options{Cookie: authz.CookieOptions{Name: "__Host-authbridge", Secure: true}}})
	d, err = host.Engine.Decide(ctx, enginetest.Navigate("/", ""))
	require.NoError(t, err)
	require.Regexp(t, `^__Host-authbridge-login-[A-Za-z0-9_-]{8}$`, d.Cookies[0].Name, "keeps the __Host- prefix")
}

func TestPendingLoginRefused(t *testing.T) {
	var logs bytes.Buffer
	env := enginetest.New(t, enginetest.Options{Engine: authz.Options{
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}})
	// Another deployment (or a replica with a wrong key) on the same provider.
	foreign := env.ReplicaWith(t, func(o *authz.Options) { o.LoginKeys = [][]byte{[]byte(strings.Repeat("k", 32))} })
	var seen []string // every cookie value handed out; none may reach the log
	start := func(t *testing.T) (name, value, cb string) {
		b := newBrowser()
		cb = startLogin(t, env, b, "/")
		name = b.pending()[0]
		seen = append(seen, b.values[name])
		return name, b.values[name], cb
	}
	tests := []struct {
		name   string
		cookie func(t *testing.T, name, value string) string
	}{
		{"no cookie (another browser)", func(*testing.T, string, string) string { return "" }},
		{"another browser's login cookie", func(t *testing.T, _, _ string) string {
			n, v, _ := start(t)
			return n + "=" + v
		}},
		{"another login's value under this login's name", func(t *testing.T, name, _ string) string {
			_, v, _ := start(t)
			return name + "=" + v
		}},
		{"tampered", func(_ *testing.T, name, value string) string {
			b := []byte(value)
			b[len(b)/2] ^= 'A' ^ 'B'
			if b[len(b)/2] == value[len(b)/2] {
				b[len(b)/2] = 'C'
			}
			return name + "=" + string(b)
		}},
		{"truncated", func(_ *testing.T, name, value string) string { return name + "=" + value[:len(value)-4] }},
		{"not base64", func(_ *testing.T, name, value string) string { return name + "=" + value[:20] + "!*" + value[22:] }},
		{"padded base64", func(_ *testing.T, name, value string) string { return name + "=" + value + "==" }},
		{"huge", func(_ *testing.T, name, _ string) string { return name + "=" + strings.Repeat("A", 6000) }},
		{"empty", func(_ *testing.T, name, _ string) string { return name + "=" }},
		{"two cookies of this name", func(_ *testing.T, name, value string) string {
			return name + "=" + value + "; " + name + "=" + value
		}},
		{"a second one folded after a comma", func(_ *testing.T, name, value string) string {
			return name + "=" + value + "; theme=dark, " + name + "=" + value
		}},
		{"spelt with a space before =", func(_ *testing.T, name, value string) string { return name + " =" + value }},
		{"quoted", func(_ *testing.T, name, value string) string { return name + "=\"" + value + "\"" }},
		{"sealed with another key", func(t *testing.T, name, _ string) string {
			d, err := foreign.Decide(ctx, enginetest.Navigate("/", ""))
			require.NoError(t, err)
			return name + "=" + d.Cookies[0].Value
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, value, cb := start(t)
			requireBadLogin(t, finish(t, env.Engine, tt.cookie(t, name, value), cb))
		})
	}
	t.Run("replayed callback", func(t *testing.T) {
		name, value, cb := start(t)
		d := finish(t, env.Engine, name+"="+value, cb)
		require.Equal(t, authz.Redirect, d.Outcome, d.Reason)
		require.Equal(t, name, d.Cookies[1].Name)
		require.Negative(t, d.Cookies[1].MaxAge, "a finished login's cookie is cleared")
		requireBadLogin(t, finish(t, env.Engine, name+"="+value, cb))
	})
	t.Run("replay caught by the marker alone", func(t *testing.T) {
		// A provider that accepted a code twice would still not give a second session: the store marks
		// the state used once the code is accepted. Marked beforehand, this login cannot finish.
		name, value, cb := start(t)
		u, _ := url.Parse(cb)
		first, err := env.Sessions.Once(ctx, "login", u.Query().Get("state"), time.Minute)
		require.NoError(t, err)
		require.True(t, first)
		requireBadLogin(t, finish(t, env.Engine, name+"="+value, cb))
	})
	require.Contains(t, logs.String(), "callback without a matching pending login in this browser")
	require.Contains(t, logs.String(), `"level":"WARN"`)
	for _, v := range seen {
		require.NotContains(t, logs.String(), v[:16], "a cookie value reached the log")
	}
}

func TestPendingLoginExpiry(t *testing.T) {
	tests := []struct {
		name   string
		after  time.Duration
		wantOK bool
	}{
		{"just inside login_timeout", 10*time.Minute - time.Second, true},
		// The browser may keep the cookie past its Max-Age; the sealed start time refuses it all the same.
		{"at login_timeout", 10 * time.Minute, false},
		{"long after", 3 * time.Hour, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := enginetest.New(t, enginetest.Options{})
			b := newBrowser()
			d, err := env.Engine.Decide(ctx, enginetest.Navigate("/", ""))
			require.NoError(t, err)
			b.apply(d.Cookies)
			env.Clock.Advance(tt.after) // the user takes this long at the provider's login page
			d = finish(t, env.Engine, b.header(), env.FollowToProvider(t, d.Location))
			if tt.wantOK {
				require.Equal(t, authz.Redirect, d.Outcome, d.Reason)
				return
			}
			requireBadLogin(t, d)
			require.Equal(t, b.pending()[0], d.Cookies[0].Name, "the expired login's cookie is cleared")
		})
	}
}

func TestPendingLoginKeyRotation(t *testing.T) {
	oldKey, newKey := []byte(strings.Repeat("o", 32)), []byte(strings.Repeat("n", 40))
	env := enginetest.New(t, enginetest.Options{Engine: authz.Options{LoginKeys: [][]byte{oldKey}}})
	rotated := env.ReplicaWith(t, func(o *authz.Options) { o.LoginKeys = [][]byte{newKey, oldKey} })
	newOnly := env.ReplicaWith(t, func(o *authz.Options) { o.LoginKeys = [][]byte{newKey} })

	b := newBrowser()
	cb := startLogin(t, env, b, "/")
	require.Equal(t, authz.Redirect, finish(t, rotated, b.header(), cb).Outcome, "the old key still opens")

	d, err := rotated.Decide(ctx, enginetest.Navigate("/", ""))
	require.NoError(t, err)
	cb = env.FollowToProvider(t, d.Location)
	requireBadLogin(t, finish(t, env.Engine, enginetest.CookieHeader(d.Cookies), cb)) // sealed with the new key
	b = newBrowser()
	cb = startLogin(t, env, b, "/")
	requireBadLogin(t, finish(t, newOnly, b.header(), cb)) // the old key was removed

	_, err = authz.New(authz.Options{Sessions: env.Sessions, Provider: env.Provider, Cookie: authz.CookieOptions{Name: "a"},
		LoginKeys: [][]byte{[]byte("short")}})
	require.Error(t, err, "a key under 32 bytes is refused")
}

func TestOwnsCookie(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{})
	for name, want := range map[string]bool{
		"authbridge": true, "authbridge-login-AbCd1234": true, "authbridge-login": true,
		"authbridge-loginx": false, "xauthbridge": false, "authbridge-x": false, "theme": false,
	} {
		require.Equal(t, want, env.Engine.OwnsCookie(name), name)
	}
}
