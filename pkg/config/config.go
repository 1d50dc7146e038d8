// Package config turns one YAML file, AUTHBRIDGE_* environment variables and mounted secret files into a
// validated Config.
package config

import (
	"errors"
	"net/netip"
	"net/url"
	"strings"
	"time"
	"unicode"
)

// Sentinel errors. Every error from Load and Validate wraps one of them (or an fs error for an unreadable
// config file) and names the key it is about.
var (
	// ErrUnknownKey: a YAML key or an AUTHBRIDGE_* environment variable that is not part of the contract.
	ErrUnknownKey = errors.New("config: unknown key")
	// ErrInvalidValue: a value that does not parse or breaks a rule (including conflicting keys).
	ErrInvalidValue = errors.New("config: invalid value")
	// ErrMissing: a required key that is absent or empty.
	ErrMissing = errors.New("config: missing")
)

// EnvPrefix starts the environment variable of every key: AUTHBRIDGE_ + the dotted key upper-cased with
// "." → "_", e.g. oidc.client_id → AUTHBRIDGE_OIDC_CLIENT_ID.
const EnvPrefix = "AUTHBRIDGE_"

// Cookie names chosen when session.cookie.name is not set.
const (
	// HostCookieName is the default: a __Host- cookie is host-only, Secure and Path=/, enforced by browsers.
	HostCookieName = "__Host-authbridge"
	// PlainCookieName is the default when a cookie domain is set or secure is false, since a __Host- cookie
	// can have neither.
	PlainCookieName = "authbridge"
)

// Config is the whole configuration. It is plain data: cmd copies it into the leaf packages' option
// structs. Build one with Load, or start from Default and call Validate.
type Config struct {
	OIDC     OIDC     `yaml:"oidc"`
	Session  Session  `yaml:"session"`
	Listen   Listen   `yaml:"listen"`
	Redirect Redirect `yaml:"redirect"`
	// TrustedProxies (trusted_proxies) lists the CIDRs whose X-Forwarded-* headers are believed; a bare IP
	// means /32 or /128. Default: loopback and the private ranges 127.0.0.0/8, ::1/128, 10.0.0.0/8,
	// 172.16.0.0/12, 192.168.0.0/16, fc00::/7. An empty list trusts no proxy.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// TrustedProxyPrefixes is TrustedProxies parsed (and masked). Load fills it; it has no key of its own.
	TrustedProxyPrefixes []netip.Prefix `yaml:"-"`
	Policy               Policy         `yaml:"policy"`
	Bearer               Bearer         `yaml:"bearer"`
	Log                  Log            `yaml:"log"`
	Admin                Admin          `yaml:"admin"`
	// IgnoredEnv names the AUTHBRIDGE_* variables that Load passed over as Kubernetes service links
	// (AUTHBRIDGE_SERVICE_HOST, AUTHBRIDGE_PORT_9191_TCP, ...; see isServiceLink), for the caller to log.
	// Their values are not kept. Load fills it; it has no key of its own.
	IgnoredEnv []string `yaml:"-"`
}

// OIDC is the identity provider and this relying party's registration there (oidc.*).
type OIDC struct {
	// IssuerURL (oidc.issuer_url) is the provider's issuer, used for discovery and compared exactly with
	// the ID token's iss, so Auth0's trailing slash is kept as given. Required; https, or http only for
	// 127.0.0.1, localhost or ::1.
	IssuerURL string `yaml:"issuer_url"`
	// ClientID (oidc.client_id) is this application's client ID at the provider. Required.
	ClientID string `yaml:"client_id"`
	// ClientSecret (oidc.client_secret) is the client secret; empty for a public client (PKCE only).
	// Prefer ClientSecretFile or the environment over the YAML file.
	ClientSecret Secret `yaml:"client_secret"`
	// ClientSecretFile (oidc.client_secret_file) is a file holding ClientSecret (trailing newline trimmed).
	// Load reads it into ClientSecret and clears this field. Setting both is an error.
	ClientSecretFile string `yaml:"client_secret_file"`
	// RedirectURL (oidc.redirect_url) is the absolute http(s) callback URL registered at the provider,
	// e.g. https://auth.example.com/oauth2/callback. Required; must have a path.
	RedirectURL string `yaml:"redirect_url"`
	// Scopes (oidc.scopes) are requested at login. Default: openid, profile, email, offline_access
	// (offline_access makes Auth0 issue a refresh token). Must contain openid.
	Scopes []string `yaml:"scopes"`
	// Audience (oidc.audience) is sent as Auth0's audience parameter (the API identifier) so that the
	// access token is a JWT for that API. Default: empty, not sent.
	Audience string `yaml:"audience"`
	// ExtraAuthParams (oidc.extra_auth_params) are added to the authorization URL, e.g. prompt or
	// connection. Parameters authbridge sets itself (client_id, redirect_uri, response_type, scope,
	// state, nonce, code_challenge, code_challenge_method) are refused, and so is audience when
	// Audience is set. Default: none.
	ExtraAuthParams map[string]string `yaml:"extra_auth_params"`
	// GroupsClaim (oidc.groups_claim) is the ID token claim holding the user's groups; for Auth0 usually a
	// namespaced claim such as https://example.com/groups. Default: groups.
	GroupsClaim string `yaml:"groups_claim"`
	// Logout (oidc.logout) picks how sign-out reaches the provider: auto (discovery's
	// end_session_endpoint, else Auth0's /v2/logout for an Auth0 issuer, else none), oidc
	// (end_session_endpoint), auth0 (/v2/logout) or none. Default: auto.
	Logout string `yaml:"logout"`
	// Timeout (oidc.timeout) bounds each call to the provider (discovery, JWKS, token). Default: 5s.
	Timeout time.Duration `yaml:"timeout"`
	// AllowUnverifiedEmail (oidc.allow_unverified_email) uses the ID token's email even when its
	// email_verified claim is not true. Off, such an address counts for nothing: policy.email_domains
	// refuses the user and the upstream gets an empty X-Auth-Request-Email, since anyone can sign up with
	// somebody else's address at a provider that lets unverified accounts log in (Auth0 database
	// connections do). A malformed address is never used. Default: false.
	AllowUnverifiedEmail bool `yaml:"allow_unverified_email"`
}

// Session is where sessions live and how the browser holds them (session.*).
type Session struct {
	// Store (session.store) is redis or memory (one replica only, lost on restart). Default: redis.
	Store string `yaml:"store"`
	Redis Redis  `yaml:"redis"`
	// Cookie holds the browser cookie's attributes.
	Cookie Cookie `yaml:"cookie"`
	// IdleTimeout (session.idle_timeout) ends a session unused for this long. Default: 24h.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxLifetime (session.max_lifetime) ends a session this long after login, used or not. Default: 168h;
	// must be at least IdleTimeout.
	MaxLifetime time.Duration `yaml:"max_lifetime"`
	// RefreshAhead (session.refresh_ahead) refreshes an access token this long before it expires; 0
	// refreshes only once expired. Default: 60s.
	RefreshAhead time.Duration `yaml:"refresh_ahead"`
	// LoginTimeout (session.login_timeout) is how long a started login (state, nonce, PKCE verifier) stays
	// valid for its callback. Default: 10m.
	LoginTimeout time.Duration `yaml:"login_timeout"`
	// RefreshWait (session.refresh_wait) is how long a request waits for another replica that is already
	// refreshing the same session before it uses the still-valid token or answers 503. Default: 2s.
	RefreshWait time.Duration `yaml:"refresh_wait"`
	// LoginsPerClient (session.logins_per_client) is deprecated and ignored: it bounded the logins one
	// client address could start, which let anyone lock a whole NAT out. Starting a login no longer writes
	// to the store, so there is nothing to bound. Accepted so that old configs still start; a non-zero
	// value is reported by Warnings. Default: 0.
	LoginsPerClient int `yaml:"logins_per_client"`
	// CacheTTL (session.cache_ttl) keeps sessions in process memory for this long, so most checks skip
	// the Redis round trip. Entries never outlive the access token or the session's idle or absolute end;
	// sign-out and back-channel logout reach every replica's cache at once through Redis pub/sub, and the
	// cache is bypassed whenever that subscription is down or has not confirmed a heartbeat for 600ms (a
	// stalled Redis). 0 turns the cache off. Default: 5s.
	CacheTTL time.Duration `yaml:"cache_ttl"`
	// RefreshReuseWindow (session.refresh_reuse_window) is the provider's refresh-token reuse window
	// (Auth0's "reuse interval"). If a replica dies between the provider's answer and storing the rotated
	// token, another replica can only refresh with the old token inside this window, so the refresh lease
	// is kept to a third of it. Default: 0 (no window; lease 3s).
	RefreshReuseWindow time.Duration `yaml:"refresh_reuse_window"`
}

// Redis is the Redis deployment used when Session.Store is redis (session.redis.*).
type Redis struct {
	// URL (session.redis.url) is a redis:// or rediss:// URL for a single server. Required with store redis
	// unless Addrs is set; not both. Put the password in Password or PasswordFile rather than in the URL.
	URL string `yaml:"url"`
	// Addrs (session.redis.addrs) are host:port seeds of a Cluster, or Sentinels when MasterName is set.
	// Default: none.
	Addrs []string `yaml:"addrs"`
	// MasterName (session.redis.master_name) is the Sentinel master name; needs Addrs. Default: empty.
	MasterName string `yaml:"master_name"`
	// Password (session.redis.password) is the Redis password. Default: empty.
	Password Secret `yaml:"password"`
	// PasswordFile (session.redis.password_file) is a file holding Password (trailing newline trimmed).
	// Load reads it into Password and clears this field. Setting both is an error.
	PasswordFile string `yaml:"password_file"`
	// Timeout (session.redis.timeout) bounds each Redis command from start to answer: waiting for a
	// pooled connection, dialing, retries and the reply together. A Redis that does not answer within it
	// (down, or stalled with its connections open) counts as unreachable and checks get 503, inside the
	// gateway's own timeout (Envoy's ext_authz default is 200ms): keep it below the gateway's. Default: 150ms.
	Timeout time.Duration `yaml:"timeout"`
}

// Cookie is the session cookie's attributes (session.cookie.*). The cookie is always HttpOnly,
// SameSite=Lax, Path=/.
type Cookie struct {
	// Name (session.cookie.name) is the cookie name, a valid cookie token. Default: __Host-authbridge, or
	// authbridge when Domain is set or Secure is false. An explicit __Host- name with a Domain or without
	// Secure, or a __Secure- name without Secure, is an error.
	Name string `yaml:"name"`
	// Domain (session.cookie.domain) shares the cookie with subdomains, e.g. example.com or .example.com;
	// the host of oidc.redirect_url must be inside it. Default: empty, a host-only cookie.
	Domain string `yaml:"domain"`
	// Secure (session.cookie.secure) marks the cookie Secure. Default: true; false only for plain-http
	// local testing.
	Secure bool `yaml:"secure"`
	// Secret (session.cookie.secret) seals the pending logins that the short-lived pre-auth cookies carry
	// (state, nonce, PKCE verifier, return URL). One or more keys of at least 32 characters each (e.g.
	// `openssl rand -base64 32`), separated by commas or whitespace: the first seals, all open. To rotate
	// during rolling updates: add the new key last ("old,new"), then move it first ("new,old"), then drop
	// the old one after login_timeout. Every replica needs the same value. Required with store redis;
	// with store memory, empty means a random key per process. Prefer SecretFile or the environment over
	// the YAML file.
	Secret Secret `yaml:"secret"`
	// SecretFile (session.cookie.secret_file) is a file holding Secret (trailing newline trimmed; keys
	// may be on separate lines). Load reads it into Secret and clears this field. Setting both is an
	// error.
	SecretFile string `yaml:"secret_file"`
}

// MinCookieKey is the shortest key session.cookie.secret accepts, in bytes.
const MinCookieKey = 32

// Keys returns the keys in Secret, newest first; nil when it is empty. Call it only to hand the keys to
// the engine's options.
func (ck Cookie) Keys() [][]byte {
	var keys [][]byte
	for _, k := range splitKeys(ck.Secret.Reveal()) {
		keys = append(keys, []byte(k))
	}
	return keys
}

func splitKeys(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
}

// Warnings returns what is accepted but should be changed: deprecated keys that no longer do anything.
// Load does not fail on them; the caller logs them at start-up.
func (c *Config) Warnings() []string {
	var w []string
	if c.Session.LoginsPerClient != 0 {
		w = append(w, "session.logins_per_client is deprecated and ignored: starting a login no longer writes "+
			"to the session store, so nothing needs a per-address bound (which let one client lock out everyone "+
			"behind the same address); remove the key")
	}
	return w
}

// Listen is the listen addresses (listen.*), each host:port with an optional host; all four must differ.
// The browser-facing listener (http) and the gateway-only ones (forward_auth, grpc) are apart on purpose:
// only the gateway-only ones ever answer with a token, so routing the browser-facing port to browsers
// can never hand a token to a page.
type Listen struct {
	// HTTP (listen.http) is the browser-facing listener: /oauth2/start, /oauth2/callback,
	// /oauth2/sign_out, /oauth2/backchannel_logout, /oauth2/userinfo. It never answers with a token. Default: :4180.
	HTTP string `yaml:"http"`
	// ForwardAuth (listen.forward_auth) is the gateway-only listener: forward-auth /auth (Traefik, Caddy)
	// and /oauth2/auth (nginx auth_request), whose answers carry the access token. Only gateways may
	// reach it; never route browser traffic to it. Default: :4181.
	ForwardAuth string `yaml:"forward_auth"`
	// GRPC (listen.grpc) serves Envoy ext_authz and gRPC health. Default: :9191.
	GRPC string `yaml:"grpc"`
	// Admin (listen.admin) serves /metrics, /healthz and /readyz. Default: :9090.
	Admin string `yaml:"admin"`
}

// Redirect limits where the browser may be sent after login and logout (redirect.*).
type Redirect struct {
	// AllowedDomains (redirect.allowed_domains) lists the hosts an absolute return-to URL may point at
	// (a path such as /dash always stays on the request's own host): "example.com" is that host exactly,
	// ".example.com" is that host and all its subdomains, both on the scheme's default port only;
	// "example.com:8443" and ".example.com:8443" name another port (and only that port). Hosts are
	// ASCII (an IDN in punycode, xn--…); an IP address matches only when a URL spells it exactly as
	// listed ("127.0.0.1", "[::1]:8443"). Default: empty, meaning only the host (and port) of
	// oidc.redirect_url (see Config.RedirectDomains).
	AllowedDomains []string `yaml:"allowed_domains"`
}

// Policy is who may reach what (policy.*): per-route rules, and a default rule for the requests no route
// matches; a request that fails its rule gets 403.
type Policy struct {
	// EmailDomains (policy.email_domains), if set, requires the session's email to be verified (see
	// oidc.allow_unverified_email), well-formed (one @, no display name) and at exactly one of these
	// domains, compared without regard to case; a subdomain needs its own entry. Default: none, any email.
	EmailDomains []string `yaml:"email_domains"`
	// Groups (policy.groups), if set, requires the session to have at least one of these groups (from
	// oidc.groups_claim). Default: none, any groups.
	Groups []string `yaml:"groups"`
	// Routes (policy.routes) are per-route rules, tried in file order; the first that matches a request
	// decides, and EmailDomains and Groups are the rule of requests that match none. In the environment:
	// the list in YAML flow syntax. Default: none.
	Routes []Route `yaml:"routes"`
}

// Bearer lets API clients send a JWT access token (`Authorization: Bearer`) instead of a session cookie
// (bearer.*). The token is verified against its issuer's keys, then the same policy applies to its
// claims; a refused token gets 401 or 403 with an RFC 6750 challenge, never a login redirect.
type Bearer struct {
	// Audiences (bearer.audiences), when set, turns bearer tokens on: a request with a bearer JWT and no
	// session cookie is accepted only if the token verifies (signature against the issuer's JWKS, iss,
	// exp, nbf, iat) and its aud names one of these, e.g. the Auth0 API identifier that oidc.audience
	// asks for. Default: empty, bearer tokens are off (the session decides, and the Authorization header
	// that the client sent is replaced upstream).
	Audiences []string `yaml:"audiences"`
	// ExtraIssuers (bearer.extra_issuers) are issuers besides oidc.issuer_url whose access tokens are
	// accepted, each compared exactly with the token's iss (trailing slash included) and discovered
	// (OIDC discovery, then its JWKS) on the first token that names it; https, or http only for
	// 127.0.0.1, localhost or ::1. One that cannot be reached does not stop start-up: its tokens get 503
	// until it answers. Needs Audiences. Default: none.
	ExtraIssuers []string `yaml:"extra_issuers"`
}

// Admin configures the session admin API on the admin listener (admin.*).
type Admin struct {
	// Token (admin.token) is the bearer token that /admin/sessions requires; prefer TokenFile. Default:
	// empty, the admin API is off.
	Token Secret `yaml:"token"`
	// TokenFile (admin.token_file) is a file holding Token (trailing newline trimmed). Load reads it into
	// Token and clears this field. Setting both is an error.
	TokenFile string `yaml:"token_file"`
}

// Log is the process log's shape (log.*).
type Log struct {
	// Level (log.level) is debug, info, warn or error. Default: info.
	Level string `yaml:"level"`
	// Format (log.format) is json or text. Default: json.
	Format string `yaml:"format"`
}

// Default returns a Config holding every default. It is not valid as it is: the required oidc keys (and a
// Redis address, for store redis) are still empty.
func Default() *Config {
	c := defaults()
	c.resolve()
	return c
}

// defaults is Default before the defaults that depend on other keys are resolved.
func defaults() *Config {
	return &Config{
		OIDC: OIDC{
			Scopes:      []string{"openid", "profile", "email", "offline_access"},
			GroupsClaim: "groups",
			Logout:      "auto",
			Timeout:     5 * time.Second,
		},
		Session: Session{
			Store:        "redis",
			Redis:        Redis{Timeout: 150 * time.Millisecond},
			Cookie:       Cookie{Secure: true},
			IdleTimeout:  24 * time.Hour,
			MaxLifetime:  168 * time.Hour,
			RefreshAhead: 60 * time.Second,
			LoginTimeout: 10 * time.Minute,
			RefreshWait:  2 * time.Second,
			CacheTTL:     5 * time.Second,
		},
		Listen: Listen{HTTP: ":4180", ForwardAuth: ":4181", GRPC: ":9191", Admin: ":9090"},
		TrustedProxies: []string{
			"127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7",
		},
		Log: Log{Level: "info", Format: "json"},
	}
}

// resolve fills the defaults that depend on other keys, after the file and the environment are applied.
func (c *Config) resolve() {
	if c.Session.Cookie.Name == "" {
		c.Session.Cookie.Name = defaultCookieName(c.Session.Cookie)
	}
}

func defaultCookieName(ck Cookie) string {
	if ck.Domain != "" || !ck.Secure {
		return PlainCookieName
	}
	return HostCookieName
}

// RedirectDomains returns the effective redirect.allowed_domains: the configured list, or when it is empty
// the host of oidc.redirect_url alone, with its port unless that is the scheme's default (nil if it does
// not parse). Entries keep their leading dot.
func (c *Config) RedirectDomains() []string {
	if len(c.Redirect.AllowedDomains) > 0 {
		return c.Redirect.AllowedDomains
	}
	u, err := url.Parse(c.OIDC.RedirectURL)
	if err != nil || u.Hostname() == "" {
		return nil
	}
	host := strings.ToLower(u.Host)
	if p := u.Port(); u.Scheme == "https" && p == "443" || u.Scheme == "http" && p == "80" {
		host = strings.ToLower(u.Hostname())
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
	}
	return []string{host}
}
