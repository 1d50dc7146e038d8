package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCookieNameDefault(t *testing.T) {
	tests := []struct {
		name     string
		env      []string
		wantName string
		wantErr  string
	}{
		{"host cookie by default", nil, "__Host-authbridge", ""},
		{"domain switches to plain", []string{"AUTHBRIDGE_SESSION_COOKIE_DOMAIN=.example.com"}, "authbridge", ""},
		{"insecure switches to plain", []string{"AUTHBRIDGE_SESSION_COOKIE_SECURE=false"}, "authbridge", ""},
		{"explicit name kept", []string{"AUTHBRIDGE_SESSION_COOKIE_NAME=ab", "AUTHBRIDGE_SESSION_COOKIE_DOMAIN=example.com"}, "ab", ""},
		{"explicit host name kept", []string{"AUTHBRIDGE_SESSION_COOKIE_NAME=__Host-x"}, "__Host-x", ""},
		{"empty name means default", []string{"AUTHBRIDGE_SESSION_COOKIE_NAME="}, "__Host-authbridge", ""},
		{"explicit host name with domain", []string{"AUTHBRIDGE_SESSION_COOKIE_NAME=__Host-authbridge", "AUTHBRIDGE_SESSION_COOKIE_DOMAIN=example.com"}, "", "cannot have session.cookie.domain"},
		{"explicit host name insecure", []string{"AUTHBRIDGE_SESSION_COOKIE_NAME=__Host-authbridge", "AUTHBRIDGE_SESSION_COOKIE_SECURE=false"}, "", "needs session.cookie.secure"},
		{"not a token", []string{"AUTHBRIDGE_SESSION_COOKIE_NAME=a b"}, "", "not a valid cookie name"},
		{"domain must cover redirect host", []string{"AUTHBRIDGE_SESSION_COOKIE_DOMAIN=other.example.com"}, "", "does not cover"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load("", withEnv(tt.env...))
			if tt.wantErr != "" {
				require.ErrorIs(t, err, ErrInvalidValue)
				require.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantName, c.Session.Cookie.Name)
		})
	}
}

func TestValidateRules(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(c *Config)
		wantMsg string // "" means valid
	}{
		{"http issuer on localhost", func(c *Config) { c.OIDC.IssuerURL = "http://127.0.0.1:5556/dex" }, ""},
		{"http issuer on ::1", func(c *Config) { c.OIDC.IssuerURL = "http://[::1]:5556" }, ""},
		{"issuer with query", func(c *Config) { c.OIDC.IssuerURL = "https://idp.example.com/?x=1" }, "oidc.issuer_url"},
		{"redirect without path", func(c *Config) { c.OIDC.RedirectURL = "https://auth.example.com" }, "needs a callback path"},
		{"redirect ftp", func(c *Config) { c.OIDC.RedirectURL = "ftp://auth.example.com/cb" }, "oidc.redirect_url"},
		{"reserved param any case", func(c *Config) { c.OIDC.ExtraAuthParams = map[string]string{"Redirect_URI": "x"} }, "oidc.extra_auth_params"},
		{"empty scope", func(c *Config) { c.OIDC.Scopes = []string{"openid", ""} }, "oidc.scopes"},
		{"empty groups claim", func(c *Config) { c.OIDC.GroupsClaim = "" }, "oidc.groups_claim"},
		{"zero refresh ahead ok", func(c *Config) { c.Session.RefreshAhead = 0 }, ""},
		{"negative refresh ahead", func(c *Config) { c.Session.RefreshAhead = -1 }, "session.refresh_ahead"},
		{"zero idle", func(c *Config) { c.Session.IdleTimeout = 0 }, "session.idle_timeout"},
		{"max equal idle ok", func(c *Config) { c.Session.MaxLifetime = c.Session.IdleTimeout }, ""},
		{"rediss url", func(c *Config) { c.Session.Redis.URL = "rediss://:pw@r.example.com:6380/1" }, ""},
		{"redis url password redacted", func(c *Config) { c.Session.Redis.URL = "tcp://u:" + marker + "@r:1" }, `"tcp://u:xxxxx@r:1"`},
		{"cluster addrs", func(c *Config) { c.Session.Redis.URL, c.Session.Redis.Addrs = "", []string{"r0:6379", "[::1]:6379"} }, ""},
		{"memory ignores redis", func(c *Config) { c.Session.Store, c.Session.Redis.URL = "memory", "" }, ""},
		{"memory needs no cookie secret", func(c *Config) { c.Session.Store, c.Session.Cookie.Secret = "memory", "" }, ""},
		{"redis needs a cookie secret", func(c *Config) { c.Session.Cookie.Secret = "" }, "missing: session.cookie.secret: required when session.store is redis"},
		{"cookie secret file counts as set", func(c *Config) { c.Session.Cookie.Secret, c.Session.Cookie.SecretFile = "", "/run/key" }, ""},
		{"short cookie key", func(c *Config) { c.Session.Cookie.Secret = Secret(marker[:20]) }, "key 1 of 1 has 20 characters; each needs at least 32"},
		{"rotated cookie keys", func(c *Config) { c.Session.Cookie.Secret = testCookieKey + ", \n" + marker + marker }, ""},
		{"short old cookie key", func(c *Config) { c.Session.Cookie.Secret = Secret(testCookieKey + "," + marker[:5]) }, "key 2 of 2 has 5 characters"},
		{"cookie secret of separators", func(c *Config) { c.Session.Cookie.Secret = " ,\n" }, "session.cookie.secret: holds no key"},
		{"deprecated logins per client is no error", func(c *Config) { c.Session.LoginsPerClient = -3 }, ""},
		{"listen same port different hosts", func(c *Config) { c.Listen.HTTP, c.Listen.GRPC = "127.0.0.1:80", "127.0.0.2:80" }, ""},
		{"listen wildcard conflict", func(c *Config) { c.Listen.HTTP, c.Listen.GRPC = "127.0.0.1:80", ":80" }, "listen.grpc"},
		{"listen port zero twice", func(c *Config) { c.Listen.HTTP, c.Listen.GRPC = "127.0.0.1:0", "127.0.0.1:0" }, ""},
		{"listen bad port", func(c *Config) { c.Listen.Admin = ":99999" }, "listen.admin"},
		{"allowed domains", func(c *Config) { c.Redirect.AllowedDomains = []string{".example.com", "a.example.org"} }, ""},
		{"allowed domain with port", func(c *Config) { c.Redirect.AllowedDomains = []string{"example.com:8443", ".example.org:8443"} }, ""},
		{"allowed ip addresses", func(c *Config) { c.Redirect.AllowedDomains = []string{"127.0.0.1", "[::1]:8443", "[2001:db8::1]"} }, ""},
		{"allowed punycode", func(c *Config) { c.Redirect.AllowedDomains = []string{"xn--bcher-kva.example"} }, ""},
		{"allowed domain port zero", func(c *Config) { c.Redirect.AllowedDomains = []string{"example.com:0"} }, "redirect.allowed_domains"},
		{"allowed domain empty port", func(c *Config) { c.Redirect.AllowedDomains = []string{"example.com:"} }, "redirect.allowed_domains"},
		{"allowed domain port leading zero", func(c *Config) { c.Redirect.AllowedDomains = []string{"example.com:08443"} }, "redirect.allowed_domains"},
		{"allowed domain port too big", func(c *Config) { c.Redirect.AllowedDomains = []string{"example.com:65536"} }, "redirect.allowed_domains"},
		{"allowed domain unicode", func(c *Config) { c.Redirect.AllowedDomains = []string{"bücher.example"} }, "redirect.allowed_domains"},
		{"allowed domain trailing dot", func(c *Config) { c.Redirect.AllowedDomains = []string{"example.com."} }, "redirect.allowed_domains"},
		{"allowed domain ipv6 zone", func(c *Config) { c.Redirect.AllowedDomains = []string{"[fe80::1%eth0]"} }, "redirect.allowed_domains"},
		{"allowed domain bare ipv6", func(c *Config) { c.Redirect.AllowedDomains = []string{"::1"} }, "redirect.allowed_domains"},
		{"allowed dotted ip", func(c *Config) { c.Redirect.AllowedDomains = []string{".127.0.0.1"} }, "redirect.allowed_domains"},
		{"allowed domain with path", func(c *Config) { c.Redirect.AllowedDomains = []string{"example.com/x"} }, "redirect.allowed_domains"},
		{"allowed domain with scheme", func(c *Config) { c.Redirect.AllowedDomains = []string{"https://example.com"} }, "redirect.allowed_domains"},
		{"empty group", func(c *Config) { c.Policy.Groups = []string{" "} }, "policy.groups"},
		{"ipv6 zone proxy", func(c *Config) { c.TrustedProxies = []string{"fe80::1%eth0"} }, "trusted_proxies"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.OIDC.IssuerURL = "https://idp.example.com"
			c.OIDC.ClientID = "x"
			c.OIDC.RedirectURL = "https://auth.example.com/oauth2/callback"
			c.Session.Redis.URL = "redis://r:6379"
			c.Session.Cookie.Secret = testCookieKey
			tt.edit(c)
			err := c.Validate()
			if tt.wantMsg == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.wantMsg)
			require.NotContains(t, err.Error(), marker)
		})
	}
}

func TestReference(t *testing.T) {
	ref := Reference()
	byKey := map[string]KeyDoc{}
	for _, d := range ref {
		require.NotEmpty(t, d.Doc, "%s needs a doc tag: its help", d.Key)
		require.NotContains(t, byKey, d.Key, "one entry per key")
		require.Equal(t, EnvPrefix+strings.ToUpper(strings.ReplaceAll(d.Key, ".", "_")), d.Env)
		byKey[d.Key] = d
	}
	for key, want := range map[string]string{
		"oidc.scopes":               "openid,profile,email,offline_access",
		"oidc.timeout":              "5s",
		"oidc.client_secret":        "",
		"session.store":             "redis",
		"session.cookie.secure":     "true",
		"session.idle_timeout":      "24h",
		"session.max_lifetime":      "168h",
		"session.refresh_ahead":     "1m",
		"session.login_timeout":     "10m",
		"session.logins_per_client": "0",
		"session.cookie.secret":     "",
		"listen.http":               ":4180",
		"listen.forward_auth":       ":4181",
		"listen.grpc":               ":9191",
		"listen.admin":              ":9090",
		"trusted_proxies":           "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7",
		"log.level":                 "info",
		"log.format":                "json",
	} {
		require.Equal(t, want, byKey[key].Default, key)
	}
	require.Contains(t, byKey["session.cookie.name"].Default, HostCookieName)
	require.Equal(t, "duration", byKey["oidc.timeout"].Kind)
	require.Equal(t, "AUTHBRIDGE_OIDC_CLIENT_SECRET_FILE", byKey["oidc.client_secret_file"].Env)
}

// TestWarnings: a deprecated key still loads, and says so, so that an old config keeps starting.
func TestWarnings(t *testing.T) {
	c, err := Load("", minimalEnv())
	require.NoError(t, err)
	require.Empty(t, c.Warnings())
	c, err = Load("", withEnv("AUTHBRIDGE_SESSION_LOGINS_PER_CLIENT=100"))
	require.NoError(t, err)
	require.Len(t, c.Warnings(), 1)
	require.Contains(t, c.Warnings()[0], "session.logins_per_client is deprecated and ignored")
}

func TestRedirectDomainsDefault(t *testing.T) {
	tests := []struct {
		name, redirectURL string
		allowed, want     []string
	}{
		{"host", "https://auth.example.com/oauth2/callback", nil, []string{"auth.example.com"}},
		{"default port dropped", "https://auth.example.com:443/oauth2/callback", nil, []string{"auth.example.com"}},
		{"http default port dropped", "http://auth.example.com:80/oauth2/callback", nil, []string{"auth.example.com"}},
		{"other port kept", "https://Auth.Example.com:8443/oauth2/callback", nil, []string{"auth.example.com:8443"}},
		{"https on 80 is not default", "https://auth.example.com:80/oauth2/callback", nil, []string{"auth.example.com:80"}},
		{"ip and port", "http://127.0.0.1:4180/oauth2/callback", nil, []string{"127.0.0.1:4180"}},
		{"ipv6 default port", "http://[::1]:80/oauth2/callback", nil, []string{"[::1]"}},
		{"ipv6 other port", "http://[::1]:4180/oauth2/callback", nil, []string{"[::1]:4180"}},
		{"configured list wins", "https://auth.example.com/oauth2/callback", []string{".example.org"}, []string{".example.org"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.OIDC.RedirectURL, c.Redirect.AllowedDomains = tt.redirectURL, tt.allowed
			require.Equal(t, tt.want, c.RedirectDomains())
		})
	}
}

// TestZeroMeansOneThing: every duration and number key says what its zero means, and Load holds to it:
// a zero is either refused (so that a leaf package's "zero means the default" never meets one) or
// accepted with the meaning its help states. A new key of such a kind needs a row here.
func TestZeroMeansOneThing(t *testing.T) {
	tests := map[string]string{ // key → "refused", or the words of its help that say what 0 does
		"oidc.timeout":                 "refused",
		"session.redis.timeout":        "refused",
		"session.idle_timeout":         "refused",
		"session.max_lifetime":         "refused",
		"session.login_timeout":        "refused",
		"session.refresh_wait":         "refused",
		"session.refresh_ahead":        "0 refreshes it only once it has expired",
		"session.cache_ttl":            "0 turns it off",
		"session.refresh_reuse_window": "0 means the provider has none",
		"session.logins_per_client":    "ignored, whatever its value",
	}
	seen := 0
	for _, k := range Reference() {
		if k.Kind != "duration" && k.Kind != "integer" {
			continue
		}
		seen++
		t.Run(k.Key, func(t *testing.T) {
			want, ok := tests[k.Key]
			require.True(t, ok, "%s: say what its zero means (in its doc tag and here)", k.Key)
			_, err := Load("", withEnv(k.Env+"=0"))
			if want == "refused" {
				require.ErrorIs(t, err, ErrInvalidValue)
				require.ErrorContains(t, err, k.Key+": 0s must be positive")
				require.Contains(t, k.Doc, "must be positive")
				return
			}
			require.NoError(t, err, "a zero the help gives a meaning to is accepted")
			require.Contains(t, k.Doc, want)
		})
	}
	require.Equal(t, len(tests), seen, "every row is a key of such a kind")
}
