// Package enginetest builds a complete engine against a real development identity provider for tests:
// devidp on an httptest server, login.Provider, a session store and a controllable clock.
package enginetest

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/testkit"
	"github.com/authbridge/authbridge/pkg/authz"
	"github.com/authbridge/authbridge/pkg/bearer"
	"github.com/authbridge/authbridge/pkg/devidp"
	"github.com/authbridge/authbridge/pkg/login"
	"github.com/authbridge/authbridge/pkg/session"
)

// Clock is the settable time source shared by the provider, the verifier, the store and the engine.
type Clock = testkit.Clock

// Test users and client.
const (
	ClientID     = "authbridge-test"
	ClientSecret = "test-secret"
	Audience     = "https://api.example.test"
	AppHost      = "app.example.test"
	CallbackURL  = "https://" + AppHost + authz.PathCallback
	LogoutReturn = "https://" + AppHost + "/"
)

// Alice is in the admin group; Bob is in none.
var (
	Alice = devidp.User{Username: "alice", Password: "alice-pw", Subject: "auth0|alice", Email: "alice@example.com", Name: "Alice", Groups: []string{"admin"}}
	Bob   = devidp.User{Username: "bob", Password: "bob-pw", Subject: "auth0|bob", Email: "bob@other.test", Name: "Bob"}
)

// Env is one engine wired to a running devidp.
type Env struct {
	Clock    *Clock
	IDP      *devidp.IDP
	IDPURL   string // issuer, with trailing slash
	Provider *login.Provider
	Store    session.Store
	Sessions *session.Sessions
	Engine   *authz.Engine
	Verifier *bearer.Verifier // with Options.Bearer

	client          *http.Client
	options         authz.Options
	allowUnverified bool
}

// Options adjust an Env before it is built.
type Options struct {
	Store     session.Store // default: a MemoryStore on the Env's clock
	Engine    authz.Options // Sessions, Provider and Now are filled in; zero fields get test defaults
	AutoLogin string        // default "alice"
	TokenTTL  time.Duration // access token lifetime, default 1h
	// ReuseWindow is the provider's refresh-token reuse window (devidp.Options.RefreshReuseWindow).
	ReuseWindow time.Duration
	// CacheTTL turns on the in-process session cache (a memory store needs no invalidation channel).
	CacheTTL time.Duration
	// Users are more accounts at the provider, next to Alice and Bob.
	Users []devidp.User
	// AllowUnverifiedEmail is login.Config.AllowUnverifiedEmail of the engine's provider.
	AllowUnverifiedEmail bool
	// IssParameter makes the provider follow RFC 9207 (devidp.Options.IssParameter).
	IssParameter bool
	// Bearer turns on API clients' bearer tokens: a bearer.Verifier for the provider's access tokens
	// (audience Audience) on the Env's clock, as Engine.Bearer, unless Engine.Bearer is set already.
	Bearer bool
}

// New starts devidp and builds an engine against it. Everything is stopped when t ends.
func New(t testing.TB, o Options) *Env {
	t.Helper()
	clock := testkit.NewClock(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	if o.AutoLogin == "" {
		o.AutoLogin = Alice.Username
	}
	srv := httptest.NewUnstartedServer(nil)
	srv.Start()
	t.Cleanup(srv.Close)
	issuer := srv.URL + "/"
	idp, err := devidp.New(devidp.Options{
		Issuer:             issuer,
		Clients:            []devidp.Client{{ID: ClientID, Secret: ClientSecret, RedirectURIs: []string{CallbackURL}, LogoutURLs: []string{LogoutReturn}}},
		Users:              append([]devidp.User{Alice, Bob}, o.Users...),
		Audience:           Audience,
		AccessTokenTTL:     o.TokenTTL,
		RefreshReuseWindow: o.ReuseWindow,
		AutoLogin:          o.AutoLogin,
		IssParameter:       o.IssParameter,
		Now:                clock.Now,
	})
	require.NoError(t, err)
	srv.Config.Handler = idp.Handler()
	p := newProvider(t, issuer, clock, srv.Client(), o.AllowUnverifiedEmail)
	if o.Store == nil {
		o.Store = session.NewMemoryStore(clock.Now)
	}
	eo := o.Engine
	eo.Sessions, eo.Provider, eo.Now = session.NewSessions(o.Store), p, clock.Now
	if eo.Cookie.Name == "" {
		eo.Cookie = authz.CookieOptions{Name: "authbridge", Secure: true}
	}
	if eo.Lifetimes == (authz.Lifetimes{}) {
		eo.Lifetimes = authz.Lifetimes{Idle: 24 * time.Hour, Max: 168 * time.Hour, RefreshAhead: time.Minute, Login: 10 * time.Minute}
	}
	if o.CacheTTL > 0 {
		eo.Sessions.EnableCache(session.CacheOptions{TTL: o.CacheTTL, Idle: eo.Lifetimes.Idle, Max: eo.Lifetimes.Max, Now: clock.Now})
	}
	if eo.Redirects == nil {
		eo.Redirects = authz.Domains{AppHost}
	}
	if eo.LoginKeys == nil {
		// One key for the Env, so that Replica opens the login cookies this engine seals.
		eo.LoginKeys = [][]byte{[]byte(rand.Text() + rand.Text())}
	}
	var v *bearer.Verifier
	if o.Bearer && eo.Bearer == nil {
		v, err = bearer.New(bearer.Options{Issuers: []string{issuer}, Audiences: []string{Audience},
			HTTPClient: srv.Client(), Now: clock.Now, AllowUnverifiedEmail: o.AllowUnverifiedEmail})
		require.NoError(t, err)
		eo.Bearer = v
	}
	e, err := authz.New(eo)
	require.NoError(t, err)
	return &Env{Clock: clock, IDP: idp, IDPURL: issuer, Provider: p, Store: o.Store, Sessions: eo.Sessions, Engine: e,
		Verifier: v, client: srv.Client(), options: eo, allowUnverified: o.AllowUnverifiedEmail}
}

func newProvider(t testing.TB, issuer string, clock *Clock, client *http.Client, allowUnverified bool) *login.Provider {
	p, err := login.New(context.Background(), login.Config{
		IssuerURL: issuer, ClientID: ClientID, ClientSecret: ClientSecret, RedirectURL: CallbackURL,
		Scopes: []string{"openid", "profile", "email", "offline_access"}, Audience: Audience, Now: clock.Now,
		AllowUnverifiedEmail: allowUnverified,
	}, client)
	require.NoError(t, err)
	return p
}

// Replica builds another engine, with its own provider client, over the same store, provider and clock:
// a second authbridge replica.
func (e *Env) Replica(t testing.TB) *authz.Engine {
	t.Helper()
	return e.ReplicaWith(t, nil)
}

// ReplicaWith is Replica with its options changed by edit first (nil changes nothing): e.g. other login
// keys, as a replica mid-rotation or another deployment has.
func (e *Env) ReplicaWith(t testing.TB, edit func(*authz.Options)) *authz.Engine {
	t.Helper()
	o := e.options
	o.Provider = newProvider(t, e.IDPURL, e.Clock, e.client, e.allowUnverified)
	if edit != nil {
		edit(&o)
	}
	eng, err := authz.New(o)
	require.NoError(t, err)
	return eng
}

// Navigate is a browser's top-level GET of uri on the app host, following a link on the app's own pages.
func Navigate(uri, cookie string) *authz.Request {
	return &authz.Request{Front: "test", Method: "GET", Scheme: "https", Host: AppHost, URI: uri,
		Accept: "text/html,application/xhtml+xml,*/*;q=0.8", FetchMode: "navigate", FetchSite: "same-origin", Cookie: cookie}
}

// FollowToProvider visits the provider's authorize URL as the browser would and returns the callback
// URI (path and query) the provider redirected back to.
func (e *Env) FollowToProvider(t testing.TB, authorizeURL string) string {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(authorizeURL)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode, "provider should redirect back")
	u, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, AppHost, u.Host)
	return u.RequestURI()
}

// Login runs a whole browser login for uri and returns the Cookie header that carries the new session,
// and the decision of the callback.
func (e *Env) Login(t testing.TB, uri string) (string, *authz.Decision) {
	t.Helper()
	ctx := context.Background()
	d, err := e.Engine.Decide(ctx, Navigate(uri, ""))
	require.NoError(t, err)
	require.Equal(t, authz.Redirect, d.Outcome, d.Reason)
	cb := e.FollowToProvider(t, d.Location)
	d2, err := e.Engine.Decide(ctx, Navigate(cb, CookieHeader(d.Cookies)))
	require.NoError(t, err)
	require.Equal(t, authz.Redirect, d2.Outcome, d2.Reason)
	return CookieHeader(d2.Cookies), d2
}

// CookieHeader renders the live cookies of a Set-Cookie list as a Cookie header value.
func CookieHeader(cs []*http.Cookie) string {
	var parts []string
	for _, c := range cs {
		if c.MaxAge >= 0 && c.Value != "" {
			parts = append(parts, c.Name+"="+c.Value)
		}
	}
	return strings.Join(parts, "; ")
}
