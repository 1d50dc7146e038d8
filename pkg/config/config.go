// Package config turns one YAML file, AUTHBRIDGE_* environment variables and mounted secret files into a
// validated Config.
package config

import (
	"crypto/tls"
	"crypto/x509"
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
//
// Each key's help is its field's doc tag, written nowhere else (Reference and the README's table are
// renderings of it); a field's comment says only what the help does not. A zero duration or number
// means one thing everywhere: either the help says what it turns off, or Validate refuses it, so a
// leaf package's "zero means the default" never meets a configured zero.
type Config struct {
	OIDC     OIDC     `yaml:"oidc"`
	Session  Session  `yaml:"session"`
	Listen   Listen   `yaml:"listen"`
	Redirect Redirect `yaml:"redirect"`
	// TrustedProxies: a bare IP means /32 or /128; an empty list trusts no proxy.
	TrustedProxies []string `yaml:"trusted_proxies" doc:"CIDRs or IPs whose X-Forwarded-* headers are trusted"`
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
	// IssuerURL is used for discovery as given, so Auth0's trailing slash stays. https, or http only for
	// 127.0.0.1, localhost or ::1.
	IssuerURL string `yaml:"issuer_url" doc:"provider issuer URL, compared exactly with the ID token's iss (required)"`
	ClientID  string `yaml:"client_id" doc:"client ID at the provider (required)"`
	// ClientSecret: prefer ClientSecretFile or the environment over the YAML file.
	ClientSecret Secret `yaml:"client_secret" doc:"client secret; empty for a public client"`
	// ClientSecretFile: Load reads it into ClientSecret and clears this field. Setting both is an error.
	ClientSecretFile string `yaml:"client_secret_file" doc:"file holding the client secret, trailing newline trimmed"`
	// RedirectURL must be absolute http(s) with a path.
	RedirectURL string `yaml:"redirect_url" doc:"absolute callback URL registered at the provider, e.g. https://auth.example.com/oauth2/callback (required)"`
	// Scopes: offline_access (a default) makes Auth0 issue a refresh token.
	Scopes   []string `yaml:"scopes" doc:"scopes requested at login; must contain openid"`
	Audience string   `yaml:"audience" doc:"Auth0 API identifier sent as audience, for a JWT access token"`
	// ExtraAuthParams may not hold the parameters authbridge sets itself (client_id, redirect_uri,
	// response_type, scope, state, nonce, code_challenge, code_challenge_method), nor audience when Audience is
	// set.
	ExtraAuthParams map[string]string `yaml:"extra_auth_params" doc:"extra authorization URL parameters, e.g. prompt=login"`
	// GroupsClaim: for Auth0 usually a namespaced claim such as https://example.com/groups.
	GroupsClaim string `yaml:"groups_claim" doc:"ID token claim holding the user's groups"`
	// Logout auto means discovery's end_session_endpoint, else Auth0's /v2/logout for an Auth0 issuer, else
	// none.
	Logout  string        `yaml:"logout" doc:"provider logout: auto, oidc, auth0 or none"`
	Timeout time.Duration `yaml:"timeout" doc:"timeout of each call to the provider (discovery, JWKS, token); must be positive"`
	// CAFile is for a provider behind a private CA: its certificates replace the system roots for every
	// call to the provider and to bearer.extra_issuers, so that only the named CAs are trusted. Load reads
	// it into RootCAs.
	CAFile string `yaml:"ca_file" doc:"PEM file of the CA(s) the provider's certificate chains to (private CA); replaces the system roots for provider calls"`
	// RootCAs is CAFile read. Load fills it; it has no key of its own. Nil means the system roots.
	RootCAs *x509.CertPool `yaml:"-"`
	// AllowUnverifiedEmail: off, an unverified address counts for nothing (policy.email_domains refuses the
	// user, the upstream gets an empty X-Auth-Request-Email), since anyone can sign up with somebody else's
	// address at a provider that lets unverified accounts log in (Auth0 database connections do). A malformed
	// address is never used.
	AllowUnverifiedEmail bool `yaml:"allow_unverified_email" doc:"use the ID token's email even when email_verified is not true (for policy and upstream)"`
}

// Session is where sessions live and how the browser holds them (session.*).
type Session struct {
	Store string `yaml:"store" doc:"session store: redis or memory (single replica)"`
	Redis Redis  `yaml:"redis"`
	// Cookie holds the browser cookie's attributes.
	Cookie       Cookie        `yaml:"cookie"`
	IdleTimeout  time.Duration `yaml:"idle_timeout" doc:"a session unused this long ends; must be positive"`
	MaxLifetime  time.Duration `yaml:"max_lifetime" doc:"a session ends this long after login; must be positive and at least idle_timeout"`
	RefreshAhead time.Duration `yaml:"refresh_ahead" doc:"refresh an access token this long before it expires; 0 refreshes it only once it has expired"`
	// LoginTimeout bounds the pending login (state, nonce, PKCE verifier) until its callback.
	LoginTimeout time.Duration `yaml:"login_timeout" doc:"how long a started login stays valid; must be positive"`
	// RefreshWait: after it, the request uses the still-valid token or answers 503.
	RefreshWait time.Duration `yaml:"refresh_wait" doc:"how long a request waits for another replica's refresh of the same session; must be positive"`
	// LoginsPerClient bounded the logins one client address could start, which let anyone lock a whole NAT out.
	// Starting a login no longer writes to the store, so there is nothing to bound. Accepted so that old configs
	// still start; a non-zero value is reported by Warnings.
	LoginsPerClient int `yaml:"logins_per_client" doc:"deprecated and ignored, whatever its value (logins no longer write to the store before the callback); remove it"`
	// CacheTTL: entries never outlive the access token or the session's idle or absolute end; sign-out and
	// back-channel logout reach every replica's cache at once through Redis pub/sub, and the cache is bypassed
	// whenever that subscription is down or has not confirmed a heartbeat for 600ms (a stalled Redis).
	CacheTTL time.Duration `yaml:"cache_ttl" doc:"in-process session cache lifetime (invalidated across replicas by pub/sub); 0 turns it off"`
	// RefreshReuseWindow: if a replica dies between the provider's answer and storing the rotated token, another
	// replica can only refresh with the old token inside this window, hence the short lease.
	RefreshReuseWindow time.Duration `yaml:"refresh_reuse_window" doc:"the provider's refresh-token reuse window (Auth0 reuse interval); bounds the refresh lease to a third of it; 0 means the provider has none (lease 3s)"`
}

// Redis is the Redis deployment used when Session.Store is redis (session.redis.*).
type Redis struct {
	// URL: not together with Addrs. Put the password in Password or PasswordFile rather than in the URL.
	URL        string   `yaml:"url" doc:"redis:// or rediss:// URL of a single Redis (store redis needs it or addrs)"`
	Addrs      []string `yaml:"addrs" doc:"host:port seeds of a Redis Cluster, or Sentinels with master_name"`
	MasterName string   `yaml:"master_name" doc:"Sentinel master name"`
	Password   Secret   `yaml:"password" doc:"Redis password"`
	// PasswordFile: Load reads it into Password and clears this field. Setting both is an error.
	PasswordFile string `yaml:"password_file" doc:"file holding the Redis password, trailing newline trimmed"`
	// Timeout: a Redis that does not answer within it (down, or stalled with its connections open) counts as
	// unreachable, inside the gateway's own timeout (Envoy's ext_authz default is 200ms).
	Timeout time.Duration `yaml:"timeout" doc:"bound on each Redis command (pool wait, dial, retries, reply); a slower Redis is a 503; keep below the gateway's check timeout; must be positive"`
	TLS     RedisTLS      `yaml:"tls"`
}

// RedisTLS is how authbridge talks TLS to Redis (session.redis.tls.*): to every server, and to the
// Sentinels too. TLS is on with a rediss:// URL, or with Enabled for Addrs; a redis:// URL with any
// session.redis.tls key is an error.
type RedisTLS struct {
	Enabled bool   `yaml:"enabled" doc:"TLS to session.redis.addrs (Sentinel, Cluster); a rediss:// url turns it on by itself"`
	CAFile  string `yaml:"ca_file" doc:"PEM file of the CA(s) Redis's certificate chains to; replaces the system roots"`
	// CertFile is presented to a Redis started with tls-auth-clients yes.
	CertFile string `yaml:"cert_file" doc:"PEM client certificate for a Redis that requires one; needs key_file"`
	KeyFile  string `yaml:"key_file" doc:"PEM private key of session.redis.tls.cert_file"`
	// ServerName is for a Redis dialled by IP address, or by a name its certificate does not carry.
	ServerName string `yaml:"server_name" doc:"name Redis's certificate must carry when it is not the host dialled"`
	// Config is the TLS client configuration built from the keys above, or nil when TLS is off. Load
	// fills it; it has no key of its own.
	Config *tls.Config `yaml:"-"`
}

// TLSOn reports whether authbridge dials Redis with TLS.
func (r Redis) TLSOn() bool {
	return r.TLS.Enabled || strings.HasPrefix(strings.ToLower(r.URL), "rediss://")
}

// Cookie is the session cookie's attributes (session.cookie.*). The cookie is always HttpOnly,
// SameSite=Lax, Path=/.
type Cookie struct {
	// Name: an explicit __Host- name with a Domain or without Secure, or a __Secure- name without Secure, is an
	// error.
	Name string `yaml:"name" doc:"session cookie name"`
	// Domain: the host of oidc.redirect_url must be inside it.
	Domain string `yaml:"domain" doc:"cookie domain shared with subdomains, e.g. example.com; default host-only"`
	Secure bool   `yaml:"secure" doc:"Secure cookie attribute; false only for plain-http local testing"`
	// Secret: keys are separated by commas or whitespace. To rotate during rolling updates: add the new key last
	// ("old,new"), then move it first ("new,old"), then drop the old one after login_timeout. With store memory,
	// empty means a random key per process. Prefer SecretFile or the environment over the YAML file.
	Secret Secret `yaml:"secret" doc:"keys (32+ characters, comma-separated; the first seals, all open) sealing the pre-auth login cookies; same on every replica; required with store redis"`
	// SecretFile: keys may be on separate lines. Load reads it into Secret and clears this field. Setting both
	// is an error.
	SecretFile string `yaml:"secret_file" doc:"file holding session.cookie.secret, trailing newline trimmed"`
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
	HTTP        string `yaml:"http" doc:"browser-facing listener: /oauth2/start, /oauth2/callback, /oauth2/sign_out, /oauth2/backchannel_logout, /oauth2/userinfo; never answers with a token"`
	ForwardAuth string `yaml:"forward_auth" doc:"gateway-only listener: /auth (Traefik, Caddy) and /oauth2/auth (nginx auth_request), whose answers carry the token"`
	GRPC        string `yaml:"grpc" doc:"Envoy ext_authz gRPC listener"`
	Admin       string `yaml:"admin" doc:"/metrics, /healthz, /readyz listener"`
}

// Redirect limits where the browser may be sent after login and logout (redirect.*).
type Redirect struct {
	// AllowedDomains: an IP address matches only when a URL spells it exactly as listed ("127.0.0.1",
	// "[::1]:8443"); empty means the host (and port) of oidc.redirect_url alone (see Config.RedirectDomains).
	AllowedDomains []string `yaml:"allowed_domains" doc:"absolute return URLs allowed after login/sign-out: example.com exact, .example.com with subdomains, :port for a non-default port (example.com:8443), IDNs in punycode; a path always stays on the request's host; default the redirect_url host[:port]"`
}

// Policy is who may reach what (policy.*): per-route rules, and a default rule for the requests no route
// matches; a request that fails its rule gets 403.
type Policy struct {
	// EmailDomains also requires the address to be verified (see oidc.allow_unverified_email) and well-formed
	// (one @, no display name); domains compare without regard to case.
	EmailDomains []string `yaml:"email_domains" doc:"if set, the verified email must be @ exactly one of these domains (subdomains listed on their own)"`
	Groups       []string `yaml:"groups" doc:"if set, the session needs at least one of these groups"`
	Routes       []Route  `yaml:"routes" doc:"per-route rules, first match wins; the two keys above are the rule for requests no route matches (see [Policy](#policy-who-may-reach-what)); in the environment a YAML flow list, e.g. [{name: admin, host: admin.example.com, groups: [admin]}]"`
}

// Bearer lets API clients send a JWT access token (`Authorization: Bearer`) instead of a session cookie
// (bearer.*). The token is verified against its issuer's keys, then the same policy applies to its
// claims; a refused token gets 401 or 403 with an RFC 6750 challenge, never a login redirect.
type Bearer struct {
	// Audiences: a token is accepted only if it verifies (signature against the issuer's JWKS, iss, exp, nbf,
	// iat) and its aud names one of these. Empty, the session decides, and the Authorization header that the
	// client sent is replaced upstream.
	Audiences []string `yaml:"audiences" doc:"non-empty turns on bearer JWTs for API clients: the token's aud must name one of these (e.g. the Auth0 API identifier)"`
	// ExtraIssuers: https, or http only for 127.0.0.1, localhost or ::1. One that cannot be reached does not
	// stop start-up: its tokens get 503 until it answers.
	ExtraIssuers []string `yaml:"extra_issuers" doc:"issuers besides oidc.issuer_url whose access tokens are accepted (exact iss; discovery and JWKS on first use)"`
}

// Admin configures the session admin API on the admin listener (admin.*).
type Admin struct {
	Token Secret `yaml:"token" doc:"bearer token for /admin/sessions on the admin listener; empty turns the admin API off"`
	// TokenFile: Load reads it into Token and clears this field. Setting both is an error.
	TokenFile string `yaml:"token_file" doc:"file holding admin.token, trailing newline trimmed"`
}

// Log is the process log's shape (log.*).
type Log struct {
	Level  string `yaml:"level" doc:"debug, info, warn or error"`
	Format string `yaml:"format" doc:"json or text"`
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
