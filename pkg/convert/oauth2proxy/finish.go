package oauth2proxy

import (
	"net/url"
	"strings"
)

// finish settles what depends on several options or on their absence: the issuer, the redirect URL, the
// session store, Redis's topology and who may log in.
func (c *conv) finish(redirectURL string) {
	c.issuer()
	switch {
	case c.out.get("oidc.redirect_url") != "":
	case redirectURL != "":
		c.out.set("oidc.redirect_url", redirectURL)
	default:
		c.notes = append(c.notes, Note{Option: "redirect_url", Source: "not set", Refused: true,
			Text: "oauth2-proxy built it from each request's Host; authbridge needs it: convert with --redirect-url https://<your host>/oauth2/callback"})
	}
	c.store()
	if _, ok := c.seen["email_domains"]; !ok {
		c.notes = append(c.notes, Note{Option: "email_domains", Source: "not set", Refused: true,
			Text: "oauth2-proxy let nobody in without it; authbridge without policy.email_domains lets in everyone the provider authenticates: set email_domains to your domains (or to * if that is what you mean, with --acknowledge email_domains)"})
	}
}

// issuer derives oidc.issuer_url from the provider when oidc_issuer_url is not set.
func (c *conv) issuer() {
	provider := "google" // oauth2-proxy's default
	src := "default"
	if s, ok := c.seen["provider"]; ok {
		provider, src = strings.ToLower(s.str()), s.source
	}
	fixed, isOIDC := oidcIssuers()[provider]
	if !isOIDC || c.out.get("oidc.issuer_url") != "" {
		return
	}
	switch provider {
	case "azure", "entra-id":
		tenant := "common"
		if s, ok := c.seen["azure_tenant"]; ok && s.str() != "" {
			tenant = s.str()
		}
		switch strings.ToLower(tenant) {
		case "common", "organizations", "consumers":
			c.notes = append(c.notes, Note{Option: "azure_tenant", Source: src, Refused: true,
				Text: "tenant " + tenant + " names no single issuer, and authbridge compares the ID token's iss exactly: set azure_tenant (or oidc_issuer_url) to your tenant's ID"})
			return
		}
		fixed = "https://login.microsoftonline.com/" + url.PathEscape(tenant) + "/v2.0"
	case "google":
		if src == "default" {
			c.notes = append(c.notes, Note{Option: "provider", Source: "default", Text: "not set: oauth2-proxy's default, google, is used (issuer https://accounts.google.com)"})
		}
	}
	if fixed == "" {
		c.notes = append(c.notes, Note{Option: "oidc_issuer_url", Source: "not set", Refused: true,
			Text: "provider " + provider + " needs its issuer URL: set oidc_issuer_url"})
		return
	}
	c.out.set("oidc.issuer_url", fixed)
}

// store picks the session store: Redis as oauth2-proxy had it (one server, Sentinel or Cluster), or the
// memory store for oauth2-proxy's cookie sessions, which have no equivalent.
func (c *conv) store() {
	if c.out.get("session.store") != "redis" {
		c.out.set("session.store", "memory")
		src := "default"
		if s, ok := c.seen["session_store_type"]; ok {
			src = s.source
		}
		c.notes = append(c.notes, Note{Option: "session_store_type", Source: src,
			Text: "cookie sessions: authbridge keeps sessions server-side, never in the cookie; the memory store written here serves one replica and loses sessions on restart: for more, set session.store: redis, session.redis.url and session.cookie.secret"})
		return
	}
	on := func(name string) bool { v, _ := c.seen[name].boolean(); return v }
	hosts := func(name string) []string {
		var out []string
		for _, u := range c.seen[name].vals {
			addr, ok := nodeAddr(u)
			if !ok {
				c.notes = append(c.notes, Note{Option: name, Source: c.seen[name].source, Refused: true,
					Text: "an entry is neither host:port nor a URL whose host can be read apart from its password (percent-encode special characters in it): set session.redis.addrs yourself"})
				continue
			}
			out = append(out, addr)
		}
		return out
	}
	switch {
	case on("redis_use_sentinel"):
		delete(c.out.vals, "session.redis.url")
		c.out.set("session.redis.addrs", hosts("redis_sentinel_connection_urls"))
		c.out.set("session.redis.master_name", c.seen["redis_sentinel_master_name"].str())
	case on("redis_use_cluster"):
		delete(c.out.vals, "session.redis.url")
		c.out.set("session.redis.addrs", hosts("redis_cluster_connection_urls"))
	}
	if _, ok := c.seen["cookie_secret"]; !ok {
		if _, ok := c.seen["cookie_secret_file"]; !ok {
			c.notes = append(c.notes, Note{Option: "cookie_secret", Source: "not set",
				Text: "authbridge with Redis needs session.cookie.secret: generate one (openssl rand -base64 32) into AUTHBRIDGE_SESSION_COOKIE_SECRET or session.cookie.secret_file"})
		}
	}
}

// nodeAddr is the host:port of a Sentinel or Cluster node given as a URL or as host:port, or false when
// that cannot be told apart from a password: the entry does not parse, or holds an '@' outside its user
// info (an unencoded '/', '?' or '#' in the password), which would write part of the password out.
func nodeAddr(u string) (string, bool) {
	if !strings.Contains(u, "://") {
		return u, !strings.Contains(u, "@")
	}
	p, err := url.Parse(u)
	if err != nil || p.Host == "" || p.User == nil && strings.Contains(u, "@") {
		return "", false
	}
	return p.Host, true
}
