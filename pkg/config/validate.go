package config

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode"
)

// Validate checks every rule of the contract without any I/O (it neither reads secret files nor reaches
// Redis or the provider) and reports every problem at once, joined with errors.Join; nil means valid.
// Each problem wraps ErrMissing or ErrInvalidValue and names its key.
func (c *Config) Validate() error { return errors.Join(c.validate()...) }

// problems collects the errors of one Validate run.
type problems []error

func (p *problems) missing(key, format string, args ...any) {
	*p = append(*p, fmt.Errorf("%w: %s: %s", ErrMissing, key, fmt.Sprintf(format, args...)))
}

func (p *problems) invalid(key, format string, args ...any) {
	*p = append(*p, fmt.Errorf("%w: %s: %s", ErrInvalidValue, key, fmt.Sprintf(format, args...)))
}

// oneOf reports key unless v is one of allowed.
func (p *problems) oneOf(key, v string, allowed ...string) {
	if !slices.Contains(allowed, v) {
		p.invalid(key, "%q is not one of %s", v, strings.Join(allowed, ", "))
	}
}

func (c *Config) validate() []error {
	var p problems
	c.validateOIDC(&p)
	c.validateSession(&p)
	c.validateListen(&p)
	for _, d := range c.Redirect.AllowedDomains {
		if !isRedirectEntry(d) {
			p.invalid("redirect.allowed_domains", "%q is not a host; write example.com for that host, .example.com to add its subdomains, "+
				"an IDN in punycode (xn--…), and :port only for a port other than the scheme's default", d)
		}
	}
	for _, s := range c.TrustedProxies {
		if _, err := parseProxy(s); err != nil {
			p.invalid("trusted_proxies", "%v", err)
		}
	}
	c.validatePolicy(&p)
	c.validateBearer(&p)
	p.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	p.oneOf("log.format", c.Log.Format, "json", "text")
	for _, sf := range c.secretFiles() {
		if *sf.value != "" && *sf.path != "" {
			p.invalid(sf.key, "both %s and %s are set; set one", sf.key, sf.fileKey)
		}
	}
	return p
}

func (c *Config) validateOIDC(p *problems) {
	o := &c.OIDC
	if o.IssuerURL == "" {
		p.missing("oidc.issuer_url", "required, e.g. https://tenant.auth0.com/")
	} else if msg := checkIssuer(o.IssuerURL); msg != "" {
		p.invalid("oidc.issuer_url", "%q %s", o.IssuerURL, msg)
	}
	if o.ClientID == "" {
		p.missing("oidc.client_id", "required")
	}
	if o.RedirectURL == "" {
		p.missing("oidc.redirect_url", "required, e.g. https://auth.example.com/oauth2/callback")
	} else if msg := checkRedirectURL(o.RedirectURL); msg != "" {
		p.invalid("oidc.redirect_url", "%q %s", o.RedirectURL, msg)
	}
	for _, s := range o.Scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n\"\\") {
			p.invalid("oidc.scopes", "%q is not a scope name", s)
		}
	}
	if !slices.Contains(o.Scopes, "openid") {
		p.invalid("oidc.scopes", "must contain openid")
	}
	for k := range o.ExtraAuthParams {
		switch lk := strings.ToLower(strings.TrimSpace(k)); {
		case lk == "":
			p.invalid("oidc.extra_auth_params", "empty parameter name")
		case isReservedAuthParam(lk):
			p.invalid("oidc.extra_auth_params", "%q is set by authbridge itself and cannot be overridden", k)
		case lk == "audience" && o.Audience != "":
			p.invalid("oidc.extra_auth_params", "audience is already set by oidc.audience")
		}
	}
	if o.GroupsClaim == "" {
		p.missing("oidc.groups_claim", "required (default groups)")
	}
	p.oneOf("oidc.logout", o.Logout, "auto", "oidc", "auth0", "none")
	if o.Timeout <= 0 {
		p.invalid("oidc.timeout", "%s must be positive", fmtDuration(o.Timeout))
	}
}

func (c *Config) validateBearer(p *problems) {
	b := &c.Bearer
	for _, a := range b.Audiences {
		if a == "" || strings.TrimSpace(a) != a || strings.ContainsFunc(a, unicode.IsControl) {
			p.invalid("bearer.audiences", "%q is not an audience; write it exactly as the tokens' aud does", a)
		}
	}
	if len(b.ExtraIssuers) > 0 && len(b.Audiences) == 0 {
		p.invalid("bearer.extra_issuers", "has no effect without bearer.audiences; set the audiences its tokens are for")
	}
	seen := map[string]bool{c.OIDC.IssuerURL: true}
	for _, iss := range b.ExtraIssuers {
		switch {
		case iss == "":
			p.invalid("bearer.extra_issuers", "empty issuer")
		case checkIssuer(iss) != "":
			p.invalid("bearer.extra_issuers", "%q %s", iss, checkIssuer(iss))
		case seen[iss]:
			p.invalid("bearer.extra_issuers", "%q is listed twice, or is oidc.issuer_url", iss)
		}
		seen[iss] = true
	}
}

func (c *Config) validateSession(p *problems) {
	s := &c.Session
	p.oneOf("session.store", s.Store, "redis", "memory")
	r := &s.Redis
	if s.Store == "redis" {
		switch {
		case r.URL == "" && len(r.Addrs) == 0:
			p.missing("session.redis.url", "required when session.store is redis (or set session.redis.addrs)")
		case r.URL != "" && len(r.Addrs) > 0:
			p.invalid("session.redis.url", "set session.redis.url or session.redis.addrs, not both")
		}
	}
	if r.URL != "" {
		if msg := checkRedisURL(r.URL); msg != "" {
			p.invalid("session.redis.url", "%s", msg)
		}
	}
	for _, a := range r.Addrs {
		if err := checkHostPort(a, false); err != nil {
			p.invalid("session.redis.addrs", "%q %v", a, err)
		}
	}
	if r.MasterName != "" && len(r.Addrs) == 0 {
		p.invalid("session.redis.master_name", "needs session.redis.addrs (the Sentinel addresses)")
	}
	c.validateRedisTLS(p)
	if r.Timeout <= 0 {
		p.invalid("session.redis.timeout", "%s must be positive", fmtDuration(r.Timeout))
	}
	c.validateCookie(p)
	if s.IdleTimeout <= 0 {
		p.invalid("session.idle_timeout", "%s must be positive", fmtDuration(s.IdleTimeout))
	}
	if s.MaxLifetime <= 0 {
		p.invalid("session.max_lifetime", "%s must be positive", fmtDuration(s.MaxLifetime))
	} else if s.MaxLifetime < s.IdleTimeout {
		p.invalid("session.max_lifetime", "%s is shorter than session.idle_timeout %s", fmtDuration(s.MaxLifetime), fmtDuration(s.IdleTimeout))
	}
	if s.RefreshAhead < 0 {
		p.invalid("session.refresh_ahead", "%s must not be negative", fmtDuration(s.RefreshAhead))
	}
	if s.LoginTimeout <= 0 {
		p.invalid("session.login_timeout", "%s must be positive", fmtDuration(s.LoginTimeout))
	}
	if s.RefreshWait <= 0 {
		p.invalid("session.refresh_wait", "%s must be positive", fmtDuration(s.RefreshWait))
	}
	if s.CacheTTL < 0 {
		p.invalid("session.cache_ttl", "%s must not be negative", fmtDuration(s.CacheTTL))
	}
	if s.RefreshReuseWindow < 0 {
		p.invalid("session.refresh_reuse_window", "%s must not be negative", fmtDuration(s.RefreshReuseWindow))
	}
}

func (c *Config) validateCookie(p *problems) {
	ck := &c.Session.Cookie
	switch {
	case ck.Name == "":
		p.missing("session.cookie.name", "required")
	case !isCookieToken(ck.Name):
		p.invalid("session.cookie.name", "%q is not a valid cookie name", ck.Name)
	case hasPrefixFold(ck.Name, "__Host-") && ck.Domain != "":
		p.invalid("session.cookie.name", "%q: a __Host- cookie cannot have session.cookie.domain; choose another name", ck.Name)
	case hasPrefixFold(ck.Name, "__Host-") && !ck.Secure:
		p.invalid("session.cookie.name", "%q: a __Host- cookie needs session.cookie.secure true", ck.Name)
	case hasPrefixFold(ck.Name, "__Secure-") && !ck.Secure:
		p.invalid("session.cookie.name", "%q: a __Secure- cookie needs session.cookie.secure true", ck.Name)
	}
	c.validateCookieSecret(p)
	if ck.Domain == "" {
		return
	}
	d := strings.ToLower(strings.TrimPrefix(ck.Domain, "."))
	if !isDomain(d) {
		p.invalid("session.cookie.domain", "%q is not a domain name such as example.com", ck.Domain)
		return
	}
	// The callback sets the cookie, and a browser drops a cookie whose Domain does not cover the host.
	if u, err := url.Parse(c.OIDC.RedirectURL); err == nil && u.Hostname() != "" {
		if h := strings.ToLower(u.Hostname()); h != d && !strings.HasSuffix(h, "."+d) {
			p.invalid("session.cookie.domain", "%q does not cover the host %q of oidc.redirect_url", ck.Domain, h)
		}
	}
}

// validateCookieSecret checks the login-sealing keys; its messages give lengths, never the value. A
// secret_file that Load has not read yet counts as set.
func (c *Config) validateCookieSecret(p *problems) {
	ck := &c.Session.Cookie
	if ck.Secret == "" {
		if ck.SecretFile == "" && c.Session.Store == "redis" {
			p.missing("session.cookie.secret", "required when session.store is redis: every replica must open the "+
				"login cookies that another one sealed; generate one with `openssl rand -base64 32` and give all "+
				"replicas the same value (or set session.cookie.secret_file)")
		}
		return
	}
	keys := splitKeys(ck.Secret.Reveal())
	if len(keys) == 0 {
		p.invalid("session.cookie.secret", "holds no key")
	}
	for i, k := range keys {
		if len(k) < MinCookieKey {
			p.invalid("session.cookie.secret", "key %d of %d has %d characters; each needs at least %d (e.g. `openssl rand -base64 32`)",
				i+1, len(keys), len(k), MinCookieKey)
		}
	}
}

func (c *Config) validateListen(p *problems) {
	addrs := []struct{ key, addr string }{
		{"listen.http", c.Listen.HTTP}, {"listen.forward_auth", c.Listen.ForwardAuth},
		{"listen.grpc", c.Listen.GRPC}, {"listen.admin", c.Listen.Admin},
	}
	for i, a := range addrs {
		if err := checkHostPort(a.addr, true); err != nil {
			p.invalid(a.key, "%q %v", a.addr, err)
			continue
		}
		for _, b := range addrs[:i] {
			if listenConflict(a.addr, b.addr) {
				p.invalid(a.key, "%q conflicts with %s %q; the listeners need distinct addresses", a.addr, b.key, b.addr)
			}
		}
	}
}
