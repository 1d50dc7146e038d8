// Package devidp is a development OpenID Connect identity provider that behaves like Auth0 on the wire.
package devidp

import (
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// ErrInvalidOptions is wrapped by New when Options cannot describe a working provider.
var ErrInvalidOptions = errors.New("devidp: invalid options")

const (
	defaultTTL      = time.Hour
	codeTTL         = 60 * time.Second    // Auth0 authorization codes live 60 s
	formTTL         = 10 * time.Minute    // how long a rendered login form can be submitted
	ssoTTL          = 24 * time.Hour      // SSO cookie session lifetime
	refreshLifetime = 30 * 24 * time.Hour // Auth0's default absolute refresh-token lifetime
)

// User is an account that can log in.
type User struct {
	Username string   // login name typed into the form; unique
	Password string   // plain-text password checked by the form
	Subject  string   // "sub" claim; defaults to "auth0|" + Username
	Email    string   // "email" claim (with email_verified), sent when the scope has "email"
	Name     string   // "name" claim, sent when the scope has "profile"
	Groups   []string // sent in the Options.GroupsClaim claim of ID and access tokens
	// EmailUnverified sends email_verified false, like an Auth0 database sign-up whose owner has not
	// clicked the verification link; SetEmailVerified changes it later.
	EmailUnverified bool
	// Claims are added to the user's ID and access tokens as they are, like the namespaced claims of an
	// Auth0 Action (e.g. "https://example.com/roles": []string{"editor"}). They never replace a claim
	// devidp sets itself.
	Claims map[string]any
}

// Client is a registered relying party (an Auth0 "application").
type Client struct {
	ID           string   // client_id; unique
	Secret       string   // client_secret, accepted by client_secret_basic and client_secret_post
	RedirectURIs []string // allowed redirect_uri values, compared exactly
	LogoutURLs   []string // allowed returnTo / post_logout_redirect_uri values, compared exactly
	// BackchannelLogoutURI, if set, receives an OIDC back-channel logout token (sub and sid) whenever
	// a login session ends at /v2/logout or /oidc/logout.
	BackchannelLogoutURI string
}

// Options configures an IDP. Issuer, Clients and Users are required.
type Options struct {
	// Issuer is the base URL with a trailing slash, as Auth0 writes it ("http://127.0.0.1:PORT/").
	// Every endpoint hangs below its path, and the "iss" claim is exactly this string.
	Issuer string
	// Clients are the registered applications.
	Clients []Client
	// Users are the accounts that can log in.
	Users []User
	// Audience is the API identifier. An authorization request with audience=Audience gets an access
	// token with aud [Audience, Issuer+"userinfo"]; without audience the aud is [Issuer+"userinfo"]; any
	// other audience is refused with access_denied, like Auth0's "Service not found".
	Audience string
	// AccessTokenTTL is the access-token lifetime (expires_in); default 1h.
	AccessTokenTTL time.Duration
	// IDTokenTTL is the ID-token lifetime; default 1h.
	IDTokenTTL time.Duration
	// RefreshReuseWindow is Auth0's rotation "reuse interval": a rotated refresh token may be presented
	// again for this long after its rotation. Later reuse revokes the whole token family. Default 0:
	// any reuse is detected.
	RefreshReuseWindow time.Duration
	// GroupsClaim is the claim that carries User.Groups; default "groups".
	GroupsClaim string
	// AutoLogin, when set, names a user that /authorize logs in without showing the form (tests).
	AutoLogin string
	// ShowPasswords makes the login page list every user with its password (demo).
	ShowPasswords bool
	// IssParameter makes the provider follow RFC 9207, as Ory Hydra and Okta do: discovery says
	// authorization_response_iss_parameter_supported: true and every authorization response (code or
	// error) carries iss=Issuer. Off (Auth0's behaviour), neither is sent.
	IssParameter bool
	// Now is the clock for token times and expiries; default time.Now.
	Now func() time.Time
	// Logger receives per-request outcomes at Debug and suspicious input at Warn; default discards.
	Logger *slog.Logger
}

// Stats counts what the provider was asked to do since New.
type Stats struct {
	TokenCalls      map[string]int // token-endpoint requests by grant_type, counted on arrival, failures included
	RevokedFamilies int            // refresh-token families revoked by reuse detection
	Logins          int            // user authentications (form or AutoLogin); silent SSO reuse is not counted
	KeyFetches      int            // JWKS requests
}

// IDP is a running development provider. All methods are safe for concurrent use.
type IDP struct {
	o       Options                // normalized copy
	prefix  string                 // URL path of the issuer, ending in "/"
	secure  bool                   // issuer is https, so cookies are Secure
	keys    atomic.Pointer[keySet] // the signing key; RotateKeys replaces it
	clients map[string]Client
	users   map[string]User // by Username
	pages   *template.Template

	mu sync.Mutex
	st state // guarded by mu
}

// state is everything that changes after New.
type state struct {
	forms    map[string]*pendingLogin // by hidden form token
	codes    map[string]*authCode     // by code
	sessions map[string]*ssoSession   // by SSO cookie value
	refresh  map[string]*refreshToken // by refresh token
	families map[string]*tokenFamily  // by family id
	stats    Stats
	delay    time.Duration
	down     bool
	verified map[string]bool // email_verified by username, set by SetEmailVerified
	rewrite  TokenRewrite
	keysDown bool
	retired  []jose.JSONWebKey // keys RotateKeys replaced: still published, still accepted
}

// New checks o, fills defaults and generates an RSA-2048 RS256 signing key with a thumbprint kid.
func New(o Options) (*IDP, error) {
	if err := normalize(&o); err != nil {
		return nil, err
	}
	u, _ := url.Parse(o.Issuer) // parsed by normalize
	keys, err := newKeySet()
	if err != nil {
		return nil, fmt.Errorf("create signing key: %w", err)
	}
	p := &IDP{
		o:       o,
		prefix:  u.Path,
		secure:  u.Scheme == "https",
		clients: make(map[string]Client, len(o.Clients)),
		users:   make(map[string]User, len(o.Users)),
		pages:   parsePages(),
		st: state{
			forms:    map[string]*pendingLogin{},
			codes:    map[string]*authCode{},
			sessions: map[string]*ssoSession{},
			refresh:  map[string]*refreshToken{},
			families: map[string]*tokenFamily{},
			stats:    Stats{TokenCalls: map[string]int{}},
			verified: map[string]bool{},
		},
	}
	p.keys.Store(keys)
	for _, c := range o.Clients {
		p.clients[c.ID] = c
	}
	for _, usr := range o.Users {
		p.users[usr.Username] = usr
	}
	return p, nil
}

// normalize validates o, reporting every problem at once, and fills its defaults.
func normalize(o *Options) error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidOptions}, args...)...))
	}
	u, err := url.Parse(o.Issuer)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		!strings.HasSuffix(u.Path, "/") || u.RawQuery != "" || u.Fragment != "" {
		bad("issuer %q must be an absolute http(s) URL ending in /", o.Issuer)
	}
	if len(o.Clients) == 0 {
		bad("no clients")
	}
	seen := map[string]bool{}
	for i, c := range o.Clients {
		if c.ID == "" || seen[c.ID] {
			bad("clients[%d]: empty or duplicate id", i)
		}
		seen[c.ID] = true
		if len(c.RedirectURIs) == 0 {
			bad("clients[%d]: no redirect URIs", i)
		}
		for _, r := range append(slices.Clone(c.RedirectURIs), c.LogoutURLs...) {
			if ru, err := url.Parse(r); err != nil || !ru.IsAbs() || ru.Fragment != "" {
				bad("clients[%d]: URL %q must be absolute, without fragment", i, r)
			}
		}
	}
	if len(o.Users) == 0 {
		bad("no users")
	}
	o.Users = append([]User(nil), o.Users...)
	names := map[string]bool{}
	for i := range o.Users {
		usr := &o.Users[i]
		if usr.Username == "" || names[usr.Username] {
			bad("users[%d]: empty or duplicate username", i)
		}
		names[usr.Username] = true
		if usr.Subject == "" {
			usr.Subject = "auth0|" + usr.Username
		}
	}
	if o.AutoLogin != "" && !names[o.AutoLogin] {
		bad("auto login user %q is not in users", o.AutoLogin)
	}
	if o.AccessTokenTTL < 0 || o.IDTokenTTL < 0 || o.RefreshReuseWindow < 0 {
		bad("negative duration")
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if o.AccessTokenTTL == 0 {
		o.AccessTokenTTL = defaultTTL
	}
	if o.IDTokenTTL == 0 {
		o.IDTokenTTL = defaultTTL
	}
	if o.GroupsClaim == "" {
		o.GroupsClaim = "groups"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Issuer returns the issuer URL, with its trailing slash.
func (p *IDP) Issuer() string { return p.o.Issuer }

// Handler serves every endpoint below the issuer's path; other paths answer 404.
func (p *IDP) Handler() http.Handler {
	mux := http.NewServeMux()
	at := func(method, path string, h http.HandlerFunc) { mux.HandleFunc(method+" "+p.prefix+path, h) }
	at("GET", ".well-known/openid-configuration", p.discovery)
	at("GET", ".well-known/jwks.json", p.jwks)
	at("GET", "authorize", p.authorize)
	at("POST", "login", p.login)
	at("POST", "oauth/token", p.token)
	at("POST", "oauth/revoke", p.revoke)
	at("GET", "userinfo", p.userinfo)
	at("POST", "userinfo", p.userinfo)
	at("GET", "v2/logout", p.v2Logout)
	at("GET", "oidc/logout", p.oidcLogout)
	at("POST", "oidc/logout", p.oidcLogout)
	return mux
}

// Stats returns a copy of the counters.
func (p *IDP) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.st.stats
	s.TokenCalls = maps.Clone(s.TokenCalls)
	return s
}

// SetTokenDelay makes every later token-endpoint request wait d before it is answered, or until the
// client gives up. Zero removes the delay.
func (p *IDP) SetTokenDelay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.st.delay = d
}

// SetTokenDown makes the token endpoint answer 503 temporarily_unavailable while down is true.
func (p *IDP) SetTokenDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.st.down = down
}

// SetEmailVerified sets what email_verified says for username in every token and userinfo answer from
// now on, as when the user clicks the provider's verification link.
func (p *IDP) SetEmailVerified(username string, verified bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.st.verified[username] = verified
}

// emailVerified reports whether usr's address counts as verified now.
func (p *IDP) emailVerified(usr User) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if v, ok := p.st.verified[usr.Username]; ok {
		return v
	}
	return !usr.EmailUnverified
}

// TokenRewrite turns the token endpoint's success answer into another one: it may change the headers
// (Content-Type is application/json) and returns the body to send in place of body.
type TokenRewrite func(h http.Header, body []byte) []byte

// SetTokenRewrite passes every later successful token answer through f, so that tests can play a
// provider that answers badly (a form-encoded body, token_type mac, a tampered ID token). nil restores
// the faithful answers.
func (p *IDP) SetTokenRewrite(f TokenRewrite) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.st.rewrite = f
}

// RotateKeys starts signing with a new key, as Auth0's "rotate signing key" does: the JWKS publishes it
// at once beside the earlier keys, which still verify the tokens they signed.
func (p *IDP) RotateKeys() error {
	ks, err := newKeySet()
	if err != nil {
		return fmt.Errorf("rotate signing key: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.st.retired = append(p.st.retired, p.keys.Load().public)
	p.keys.Store(ks)
	return nil
}

// SetKeysDown makes the JWKS endpoint answer 503 while down is true.
func (p *IDP) SetKeysDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.st.keysDown = down
}

// RevokeUser invalidates every refresh token issued to subject; presenting one answers invalid_grant.
// Access tokens already issued stay valid until they expire, as with Auth0.
func (p *IDP) RevokeUser(subject string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, f := range p.st.families {
		if f.login.subject == subject {
			p.dropFamilyLocked(id)
		}
	}
}

// now reads the injected clock.
func (p *IDP) now() time.Time { return p.o.Now() }
