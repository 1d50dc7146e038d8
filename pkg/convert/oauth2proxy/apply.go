package oauth2proxy

import (
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"
)

// set writes the setting's value under key: a list as a list, anything else as its one string.
func set(key string) func(*conv, setting) {
	return func(c *conv, s setting) {
		if s.empty() {
			return
		}
		if s.opt.kind == list {
			c.out.set(key, s.vals)
			return
		}
		c.out.set(key, s.str())
	}
}

// unlessValue notes the setting's Advice unless its value is one of the harmless ones (compared
// without case; a list is compared entry by entry).
func unlessValue(harmless ...string) func(*conv, setting) {
	return func(c *conv, s setting) {
		for _, v := range s.vals {
			if !slices.ContainsFunc(harmless, func(h string) bool { return strings.EqualFold(h, v) }) {
				c.note(s, s.opt.Advice)
				return
			}
		}
	}
}

// noteAlways notes the setting's Advice whatever its value; noteSet when it is not empty; noteTrue and
// noteFalse when it is that boolean.
func noteAlways(c *conv, s setting) { c.note(s, s.opt.Advice) }

func noteSet(c *conv, s setting) {
	if !s.empty() {
		c.note(s, s.opt.Advice)
	}
}

func noteTrue(c *conv, s setting)  { noteIf(c, s, true) }
func noteFalse(c *conv, s setting) { noteIf(c, s, false) }

func noteIf(c *conv, s setting, when bool) {
	if v, ok := c.boolOf(s); ok && v == when {
		c.note(s, s.opt.Advice)
	}
}

// refuseTrue and refuseFalse refuse a boolean set to the risky value; refuseSet refuses any value.
func refuseTrue(c *conv, s setting)  { refuseIf(c, s, true) }
func refuseFalse(c *conv, s setting) { refuseIf(c, s, false) }

func refuseIf(c *conv, s setting, risky bool) {
	if v, ok := c.boolOf(s); ok && v == risky {
		c.refuse(s, s.opt.Advice)
	}
}

func refuseSet(c *conv, s setting) {
	if !s.empty() {
		c.refuse(s, s.opt.Advice)
	}
}

// boolOf reads a boolean setting; a value that is no boolean is a refusal naming it (oauth2-proxy would
// not start with it either).
func (c *conv) boolOf(s setting) (v, ok bool) {
	if v, ok = s.boolean(); !ok {
		c.notes = append(c.notes, Note{Option: s.name, Source: s.source, Text: "\"" + s.str() + "\" is not true or false", Refused: true})
	}
	return v, ok
}

// authParam adds the setting to oidc.extra_auth_params as name.
func authParam(name string) func(*conv, setting) {
	return func(c *conv, s setting) {
		if s.empty() {
			return
		}
		m, _ := c.out.vals["oidc.extra_auth_params"].(map[string]string)
		if m == nil {
			m = map[string]string{}
		}
		m[name] = s.str()
		c.out.set("oidc.extra_auth_params", m)
	}
}

// The providers that speak OpenID Connect, and the issuer of those that have a fixed one.
func oidcIssuers() map[string]string {
	return map[string]string{
		"oidc": "", "keycloak-oidc": "", "adfs": "", "azure": "", "entra-id": "",
		"google": "https://accounts.google.com", "gitlab": "https://gitlab.com",
	}
}

func applyProvider(c *conv, s setting) {
	p := strings.ToLower(s.str())
	if _, ok := oidcIssuers()[p]; !ok {
		c.notes = append(c.notes, Note{Option: s.name, Source: s.source, Refused: true,
			Text: p + " is not an OpenID Connect provider, and authbridge speaks only OIDC: put an OIDC broker (Dex, Keycloak) in front of it and convert a configuration for that"})
	}
}

func applyIssuer(c *conv, s setting) { set("oidc.issuer_url")(c, s) }

func applyAzureTenant(c *conv, s setting) {} // read in finish, with the provider

func applyClientSecret(c *conv, s setting) {
	if !s.empty() {
		c.note(s, s.opt.Advice)
	}
}

func applyScope(c *conv, s setting) {
	scopes := strings.Fields(s.str())
	if len(scopes) == 0 {
		return
	}
	if !slices.Contains(scopes, "openid") {
		scopes = append([]string{"openid"}, scopes...)
		c.note(s, "openid added: authbridge logs in with OpenID Connect")
	}
	c.out.set("oidc.scopes", scopes)
	if !slices.Contains(scopes, "offline_access") {
		c.note(s, s.opt.Advice)
	}
}

func applyEmailDomains(c *conv, s setting) {
	if slices.Contains(s.vals, "*") {
		c.refuse(s, "* lets in everyone the provider authenticates (with Google: every Google account); written as no policy.email_domains, which means the same")
		return
	}
	var bad []string
	for _, d := range s.vals {
		if strings.HasPrefix(d, ".") || strings.HasPrefix(d, "*") || strings.Contains(d, "@") {
			bad = append(bad, d)
		}
	}
	if len(bad) > 0 {
		c.notes = append(c.notes, Note{Option: s.name, Source: s.source, Refused: true,
			Text: "policy.email_domains matches each domain exactly: list every subdomain (" + strings.Join(bad, ", ") + ") by name"})
		return
	}
	if len(s.vals) > 0 {
		c.out.set("policy.email_domains", s.vals)
	}
}

func applyWhitelist(c *conv, s setting) {
	var kept, wild []string
	for _, d := range s.vals {
		switch {
		case strings.HasSuffix(d, ":*"):
			wild = append(wild, d)
		case strings.HasPrefix(d, "*."):
			wild = append(wild, d)
			kept = append(kept, d[1:])
		default:
			kept = append(kept, d)
		}
	}
	if len(wild) > 0 {
		c.refuse(s, "wildcards ("+strings.Join(wild, ", ")+") let a login return to any subdomain (or port), including one someone else controls: "+s.opt.Advice)
	}
	if len(kept) > 0 {
		c.out.set("redirect.allowed_domains", kept)
	}
}

func applyCookieSecret(c *conv, s setting) {
	if !s.empty() {
		c.note(s, s.opt.Advice)
	}
}

func applyCookieDomains(c *conv, s setting) {
	switch len(s.vals) {
	case 0:
	case 1:
		c.out.set("session.cookie.domain", s.vals[0])
	default:
		c.note(s, "several domains ("+strings.Join(s.vals, ", ")+"): "+s.opt.Advice+"; none is written, so the cookie is host-only: set session.cookie.domain to the one that covers oidc.redirect_url")
	}
}

func applyExpire(c *conv, s setting) {
	d, err := time.ParseDuration(s.str())
	switch {
	case err != nil:
		c.notes = append(c.notes, Note{Option: s.name, Source: s.source, Refused: true, Text: "\"" + s.str() + "\" is no duration"})
	case d <= 0:
		c.note(s, "a browser-session cookie has no equivalent: sessions end after session.idle_timeout unused or session.max_lifetime")
	default:
		c.out.set("session.max_lifetime", fmtDuration(d))
		if d < 24*time.Hour { // authbridge's default idle timeout must not be longer
			c.out.set("session.idle_timeout", fmtDuration(d))
		}
	}
}

// fmtDuration spells d as Go does, without the zero minutes and seconds that String adds (168h, not
// 168h0m0s).
func fmtDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func applyStore(c *conv, s setting) {
	switch strings.ToLower(s.str()) {
	case "redis":
		c.out.set("session.store", "redis")
	case "", "cookie":
		// finish writes the memory store and says why
	default:
		c.notes = append(c.notes, Note{Option: s.name, Source: s.source, Refused: true, Text: "\"" + s.str() + "\" is neither cookie nor redis"})
	}
}

func applyRedisURL(c *conv, s setting) {
	if s.empty() {
		return
	}
	u, err := url.Parse(s.str())
	if err != nil {
		c.notes = append(c.notes, Note{Option: s.name, Source: s.source, Refused: true, Text: "not a URL"})
		return
	}
	if u.User == nil && strings.Contains(s.str(), "@") {
		// An unencoded '/', '?' or '#' in the password ended the user info early: the rest of the password
		// now sits in the host, path, query or fragment, which would be written out.
		c.notes = append(c.notes, Note{Option: s.name, Source: s.source, Refused: true,
			Text: "has '@' outside the user info (a password with an unencoded '/', '?' or '#'): set session.redis.url yourself, without the password, and AUTHBRIDGE_SESSION_REDIS_PASSWORD"})
		return
	}
	if u.User != nil {
		if _, hasPassword := u.User.Password(); hasPassword {
			c.note(s, "the URL holds a password, which is never written to the YAML: write it without, and set AUTHBRIDGE_SESSION_REDIS_PASSWORD")
			if name := u.User.Username(); name != "" {
				u.User = url.User(name)
			} else {
				u.User = nil
			}
		}
	}
	c.out.set("session.redis.url", u.String())
}

func applyRedisMode(c *conv, s setting) {} // read together in finish

func applyUpstreams(c *conv, s setting) {
	for _, u := range s.vals {
		if strings.HasPrefix(u, "static://") {
			c.note(s, u+": oauth2-proxy answered the auth request itself; authbridge's /oauth2/auth answers 200 (not 202) with the identity headers, and nothing else is needed")
			return
		}
	}
	c.note(s, s.opt.Advice)
}

func applyHTTPAddress(c *conv, s setting) {
	a := strings.TrimPrefix(strings.TrimPrefix(s.str(), "http://"), "HTTP://")
	if strings.Contains(a, "://") || strings.HasPrefix(a, "fd:") {
		c.note(s, "authbridge listens on TCP only: "+s.opt.Advice)
		return
	}
	if a != "" && a != "127.0.0.1:4180" {
		c.out.set("listen.http", a)
	}
	c.note(s, s.opt.Advice)
}

// applyAlpha converts the parts of the alpha config that are not provider options.
func (c *conv) applyAlpha(settings map[string]setting) {
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		if !strings.HasPrefix(k, alphaPrefix) {
			continue
		}
		s := settings[k]
		switch s.name {
		case "providers":
			c.notes = append(c.notes, Note{Option: s.name, Source: s.source, Refused: true,
				Text: s.str() + " providers: authbridge logs in with one; convert one configuration per provider"})
		case "upstreamConfig":
			c.note(s, "authbridge does not proxy: the gateway routes to the app")
		case "injectRequestHeaders", "injectResponseHeaders":
			c.header(s)
		default:
			c.note(s, "not known to this converter: check by hand whether authbridge needs an equivalent")
		}
	}
}

// header converts one injected header of the alpha config (see headerVals).
func (c *conv) header(s setting) {
	kind, side, name, preserve := s.vals[0], s.vals[1], s.vals[2], s.vals[3]
	ack := "pass_authorization_header"
	if side == "response" {
		ack = "set_authorization_header"
	}
	as := setting{name: ack, source: s.source}
	switch kind {
	case "bearer-access":
		c.note(s, "authbridge always does this: Authorization: Bearer <access token>")
	case "id-token":
		c.refuse(as, "the ID token in "+name+": authbridge sends the access token as Authorization: Bearer (aud: oidc.audience, not the client ID), never the ID token: the upstream must validate access tokens")
	case "access-elsewhere":
		as.name = "pass_access_token"
		c.refuse(as, "the access token in "+name+": authbridge sends it as Authorization: Bearer only: the upstream must read Authorization")
	case "basic":
		c.note(s, "no Basic credentials: the upstream gets Authorization: Bearer <access token>")
	default:
		switch {
		case strings.EqualFold(name, "X-Auth-Request-User"):
			c.note(s, "authbridge sends X-Auth-Request-User too, always holding the subject (sub)")
		case strings.EqualFold(name, "X-Auth-Request-Email"):
			c.note(s, "authbridge sends X-Auth-Request-Email too, with a verified address only")
		default:
			c.note(s, name+" is not sent: authbridge sends X-Auth-Request-User and X-Auth-Request-Email, and a policy route's headers (policy.routes[].headers) can send any claim")
		}
	}
	if preserve == "true" {
		c.note(s, "preserveRequestValue: authbridge always removes identity headers that the client sent")
	}
}
