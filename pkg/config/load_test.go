package config

import (
	"errors"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// marker is in every secret of testdata; no error message may contain it.
const marker = "LEAKED-SECRET-MARKER"

func loadFile(t *testing.T, name string) (*Config, error) {
	t.Helper()
	return Load(filepath.Join("testdata", name), []string{})
}

func TestLoadInvalidFiles(t *testing.T) {
	tests := []struct {
		file    string
		wantErr error
		wantMsg string // the key, and where useful what is wrong
	}{
		{"unknown_key.yaml", ErrUnknownKey, "testdata/unknown_key.yaml:10:5: config: unknown key: session.cookie.nmae"},
		{"unknown_top_key.yaml", ErrUnknownKey, "testdata/unknown_top_key.yaml:6:1: config: unknown key: sesion"},
		{"missing_issuer.yaml", ErrMissing, "oidc.issuer_url"},
		{"missing_client_id.yaml", ErrMissing, "oidc.client_id"},
		{"bad_issuer_scheme.yaml", ErrInvalidValue, "oidc.issuer_url"},
		{"relative_redirect_url.yaml", ErrInvalidValue, "oidc.redirect_url"},
		{"no_openid_scope.yaml", ErrInvalidValue, "oidc.scopes: must contain openid"},
		{"scopes_not_list.yaml", ErrInvalidValue, "testdata/scopes_not_list.yaml:6:11: config: invalid value: oidc.scopes: want a list"},
		{"reserved_extra_param.yaml", ErrInvalidValue, `oidc.extra_auth_params: "state"`},
		{"host_cookie_with_domain.yaml", ErrInvalidValue, "session.cookie.name"},
		{"host_cookie_insecure.yaml", ErrInvalidValue, "session.cookie.name"},
		{"bad_cookie_name.yaml", ErrInvalidValue, "session.cookie.name"},
		{"bad_cookie_domain.yaml", ErrInvalidValue, "session.cookie.domain"},
		{"cookie_domain_mismatch.yaml", ErrInvalidValue, "session.cookie.domain"},
		{"bad_duration.yaml", ErrInvalidValue, "session.idle_timeout: want a duration"},
		{"negative_timeout.yaml", ErrInvalidValue, "oidc.timeout"},
		{"max_lifetime_below_idle.yaml", ErrInvalidValue, "session.max_lifetime"},
		{"bad_cidr.yaml", ErrInvalidValue, `trusted_proxies: "10.0.0.0/33"`},
		{"redis_without_url.yaml", ErrMissing, "session.redis.url"},
		{"redis_url_and_addrs.yaml", ErrInvalidValue, "session.redis.url"},
		{"bad_redis_url.yaml", ErrInvalidValue, "session.redis.url"},
		// An unencoded '/' in the password moves the '@' out of the user info; the message must not show
		// the password's pieces (Redacted would show them: they sit in the path).
		{"redis_url_password_slash.yaml", ErrInvalidValue, "session.redis.url: has '@' outside the user info"},
		{"redis_url_skip_verify.yaml", ErrInvalidValue, "session.redis.url: option skip_verify is not supported"},
		{"bad_redis_addr.yaml", ErrInvalidValue, "session.redis.addrs"},
		{"master_name_without_addrs.yaml", ErrInvalidValue, "session.redis.master_name"},
		{"zero_redis_timeout.yaml", ErrInvalidValue, "session.redis.timeout: 0s must be positive"},
		{"bad_store.yaml", ErrInvalidValue, "session.store"},
		{"bad_logout_mode.yaml", ErrInvalidValue, "oidc.logout"},
		{"both_secret_and_file.yaml", ErrInvalidValue, "oidc.client_secret_file"},
		{"missing_secret_file.yaml", ErrInvalidValue, "oidc.client_secret_file: read secret file: open testdata/no_such_secret.txt"},
		{"duplicate_listen.yaml", ErrInvalidValue, "listen.admin"},
		{"bad_listen_addr.yaml", ErrInvalidValue, "listen.grpc"},
		{"bad_log_level.yaml", ErrInvalidValue, "log.level"},
		{"bad_log_format.yaml", ErrInvalidValue, "log.format"},
		{"bad_bool.yaml", ErrInvalidValue, "session.cookie.secure: want true or false"},
		{"duplicate_key.yaml", ErrInvalidValue, "testdata/duplicate_key.yaml:8:3: config: invalid value: session.store: duplicate key (first at line 7)"},
		{"bad_allowed_domain.yaml", ErrInvalidValue, "redirect.allowed_domains"},
		{"bad_email_domain.yaml", ErrInvalidValue, "policy.email_domains"},
		{"bad_bearer_issuer.yaml", ErrInvalidValue, `bearer.extra_issuers: "http://idp.example.com/" uses http`},
		{"bearer_issuer_twice.yaml", ErrInvalidValue, `bearer.extra_issuers: "https://tenant.auth0.com/" is listed twice, or is oidc.issuer_url`},
		{"bearer_issuers_without_audiences.yaml", ErrInvalidValue, "bearer.extra_issuers: has no effect without bearer.audiences"},
		{"bad_bearer_audience.yaml", ErrInvalidValue, `bearer.audiences: "https://api.example.com " is not an audience`},
		{"syntax_error.yaml", ErrInvalidValue, "testdata/syntax_error.yaml:2:15: config: invalid value: yaml syntax: mapping value is not allowed"},
		{"oidc_ca_missing.yaml", ErrInvalidValue, "oidc.ca_file: read CA file: open testdata/no_such_ca.pem: no such file"},
		{"oidc_ca_not_pem.yaml", ErrInvalidValue, `oidc.ca_file: CA file "testdata/client_secret.txt" holds no PEM certificate`},
		{"redis_tls_missing_ca.yaml", ErrInvalidValue, "session.redis.tls.ca_file: read CA file: open testdata/no_such_ca.pem"},
		{"redis_tls_missing_pair.yaml", ErrInvalidValue, `session.redis.tls.cert_file "testdata/no_such_client.pem", key_file "testdata/no_such_client-key.pem": open testdata/no_such_client.pem`},
		{"redis_tls_cert_without_key.yaml", ErrMissing, "session.redis.tls.key_file: session.redis.tls.cert_file and key_file go together"},
		{"redis_tls_plain_url.yaml", ErrInvalidValue, "session.redis.tls.ca_file: session.redis.url is redis:// (no TLS); use a rediss:// URL"},
		{"redis_tls_addrs_off.yaml", ErrInvalidValue, "session.redis.tls.ca_file: TLS is off: set session.redis.tls.enabled"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c, err := loadFile(t, tt.file)
			require.Nil(t, c)
			require.ErrorIs(t, err, tt.wantErr)
			require.Contains(t, err.Error(), tt.wantMsg)
			require.NotContains(t, err.Error(), marker)
			require.NotContains(t, err.Error(), "SECRET-MARKER", "no piece of a secret either")
		})
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	_, err := loadFile(t, "multi_problem.yaml")
	require.Error(t, err)
	msg := err.Error()
	for _, want := range []string{
		"testdata/multi_problem.yaml:8:3: config: unknown key: oidc.colour",
		"missing: oidc.client_id",
		"invalid value: oidc.issuer_url",
		"invalid value: oidc.scopes: must contain openid",
		"invalid value: oidc.logout",
		"invalid value: session.cookie.secure",
		"invalid value: session.max_lifetime",
		"missing: session.redis.url",
		"missing: session.cookie.secret",
		"invalid value: listen.grpc",
		"invalid value: log.level",
	} {
		require.Contains(t, msg, want)
	}
	require.Len(t, strings.Split(msg, "\n"), 11, msg)
	for _, sentinel := range []error{ErrUnknownKey, ErrMissing, ErrInvalidValue} {
		require.ErrorIs(t, err, sentinel)
	}
	require.NotContains(t, msg, marker)
}

func TestLoadValidFull(t *testing.T) {
	c, err := loadFile(t, "valid_full.yaml")
	require.NoError(t, err)
	require.Equal(t, "https://idp.example.com/realms/main", c.OIDC.IssuerURL)
	require.Equal(t, "client-"+marker, c.OIDC.ClientSecret.Reveal())
	require.Empty(t, c.OIDC.ClientSecretFile)
	require.Equal(t, []string{"openid", "email", "groups"}, c.OIDC.Scopes)
	require.Equal(t, map[string]string{"prompt": "login", "connection": "google-oauth2"}, c.OIDC.ExtraAuthParams)
	require.Equal(t, "roles", c.OIDC.GroupsClaim)
	require.Equal(t, "oidc", c.OIDC.Logout)
	require.Equal(t, 3*time.Second, c.OIDC.Timeout)
	require.True(t, c.OIDC.AllowUnverifiedEmail)
	require.Equal(t, Redis{Addrs: []string{"sentinel-0:26379", "sentinel-1:26379"}, MasterName: "mymaster",
		Password: Secret("redis-" + marker), Timeout: 100 * time.Millisecond}, c.Session.Redis, "CRLF trimmed from the password file")
	require.Equal(t, Cookie{Name: "_ab", Domain: ".example.com", Secure: true,
		Secret: Secret("cookie-new-key-" + marker + "\ncookie-old-key-" + marker)}, c.Session.Cookie)
	require.Equal(t, [][]byte{[]byte("cookie-new-key-" + marker), []byte("cookie-old-key-" + marker)}, c.Session.Cookie.Keys(),
		"keys newest first, one per line of the file")
	require.Equal(t, 30*time.Minute, c.Session.IdleTimeout)
	require.Equal(t, 12*time.Hour, c.Session.MaxLifetime)
	require.Equal(t, 2*time.Minute, c.Session.RefreshAhead)
	require.Equal(t, 5*time.Minute, c.Session.LoginTimeout)
	require.Equal(t, Listen{HTTP: "127.0.0.1:8080", ForwardAuth: "127.0.0.1:8083", GRPC: ":8081", Admin: "0.0.0.0:8082"}, c.Listen)
	require.Equal(t, []string{"app.example.com", ".example.org"}, c.RedirectDomains())
	require.Equal(t, []netip.Prefix{
		netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("2001:db8::/32"),
	}, c.TrustedProxyPrefixes)
	require.Equal(t, Policy{EmailDomains: []string{"example.com"}, Groups: []string{"admins", "staff"}}, c.Policy)
	require.Equal(t, Bearer{Audiences: []string{"https://api.example.com"},
		ExtraIssuers: []string{"https://partner.example.org/", "http://127.0.0.1:5556"}}, c.Bearer)
	require.Equal(t, Log{Level: "debug", Format: "text"}, c.Log)
	require.NoError(t, c.Validate(), "a loaded Config stays valid")
}

func TestLoadValidMinimal(t *testing.T) {
	c, err := loadFile(t, "valid_minimal.yaml")
	require.NoError(t, err)
	want := Default()
	want.OIDC.IssuerURL = "https://idp.example.com"
	want.OIDC.ClientID = "authbridge"
	want.OIDC.RedirectURL = "https://auth.example.com/oauth2/callback"
	want.Session.Redis.URL = "redis://redis:6379/0"
	want.Session.Cookie.Secret = testCookieKey
	want.TrustedProxyPrefixes = c.TrustedProxyPrefixes
	require.Equal(t, want, c)
	require.Len(t, c.TrustedProxyPrefixes, 6)
	require.Equal(t, HostCookieName, c.Session.Cookie.Name)
	require.Equal(t, []string{"auth.example.com"}, c.RedirectDomains(), "default: the redirect_url host only")
}

func TestLoadValidAuth0(t *testing.T) {
	c, err := loadFile(t, "valid_auth0.yaml")
	require.NoError(t, err)
	require.Equal(t, "https://tenant.eu.auth0.com/", c.OIDC.IssuerURL, "trailing slash kept")
	require.Equal(t, "https://api.example.com/", c.OIDC.Audience)
	require.Equal(t, "https://example.com/groups", c.OIDC.GroupsClaim)
	require.Equal(t, "auth0", c.OIDC.Logout)
	require.Equal(t, "memory", c.Session.Store)
	require.Equal(t, PlainCookieName, c.Session.Cookie.Name, "a cookie domain switches to the plain name")
}

func TestLoadFileErrors(t *testing.T) {
	_, err := Load(filepath.Join("testdata", "absent.yaml"), []string{})
	require.Error(t, err)
	require.Contains(t, err.Error(), "testdata/absent.yaml")

	_, err = Load(filepath.Join(t.TempDir(), "empty.yaml"), []string{})
	require.Error(t, err, "a named file must exist")
}

func TestLoadEmptyAndMultiDocumentFiles(t *testing.T) {
	env := []string{
		"AUTHBRIDGE_OIDC_ISSUER_URL=https://idp.example.com", "AUTHBRIDGE_OIDC_CLIENT_ID=x",
		"AUTHBRIDGE_OIDC_REDIRECT_URL=https://a.example.com/cb", "AUTHBRIDGE_SESSION_STORE=memory",
	}
	tests := []struct {
		name, yaml string
		wantErr    string
	}{
		{"empty", "", ""},
		{"comments only", "# nothing\n", ""},
		{"null sections", "oidc:\nsession:\n  cookie:\n", ""},
		{"two documents", "log:\n  level: info\n---\nlog:\n  level: debug\n", "exactly one YAML document"},
		{"top level list", "- a\n- b\n", "top level: want a mapping"},
		{"section is scalar", "session: memory\n", "session: want a mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "c.yaml", tt.yaml)
			c, err := Load(path, env)
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.Equal(t, "info", c.Log.Level)
				return
			}
			require.ErrorIs(t, err, ErrInvalidValue)
			require.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestValidateIsPure(t *testing.T) {
	c := Default()
	err := c.Validate()
	require.Error(t, err)
	for _, key := range []string{"oidc.issuer_url", "oidc.client_id", "oidc.redirect_url", "session.redis.url"} {
		require.Contains(t, err.Error(), key)
	}
	require.True(t, errors.Is(err, ErrMissing))

	c.OIDC.IssuerURL = "http://localhost:5556"
	c.OIDC.ClientID = "x"
	c.OIDC.RedirectURL = "http://localhost:4180/oauth2/callback"
	c.Session.Store = "memory"
	c.OIDC.ClientSecretFile = "/nonexistent/secret" // Validate must not read it
	require.NoError(t, c.Validate())
}

// TestLoadNamesFileLineColumn: a broken file's message starts with file:line:column, the place an
// editor jumps to, and names the problem; it never quotes a secret from the broken line.
func TestLoadNamesFileLineColumn(t *testing.T) {
	tests := []struct {
		file  string
		where string // line:column
		want  string
	}{
		{"yaml_tab_indent.yaml", "3:1", `yaml syntax: found character '\t' that cannot start any token (YAML indents with spaces, never tabs)`},
		{"yaml_unclosed_quote.yaml", "2:15", "yaml syntax: could not find end character of double-quoted text"},
		{"yaml_bad_mapping.yaml", "3:1", "yaml syntax: non-map value is specified"},
		{"syntax_error.yaml", "2:15", "yaml syntax: mapping value is not allowed in this context"},
		{"yaml_unclosed_flow.yaml", "3:1", "yaml syntax: ',' or ']' must be specified"},
		{"duplicate_key.yaml", "8:3", "session.store: duplicate key (first at line 7)"},
		{"yaml_wrong_type.yaml", "3:12", "oidc.timeout: want a single duration value"},
		{"yaml_wrong_type_duration.yaml", "2:14", `session.cache_ttl: want a duration such as 30s, 10m or 24h, got "soon"`},
		{"bad_bool.yaml", "9:13", "session.cookie.secure: want true or false"},
		{"unknown_key.yaml", "10:5", "unknown key: session.cookie.nmae"},
		{"yaml_secret_in_broken_line.yaml", "3:18", "yaml syntax: mapping value is not allowed in this context"},
		{"yaml_secret_in_broken_flow.yaml", "2:18", "yaml syntax: sequence end token ']' not found"},
		// yaml.v3 says what but not where, and goccy/go-yaml finds nothing wrong: the file, then the problem.
		{"yaml_unknown_anchor.yaml", "", "yaml syntax: unknown anchor '…' referenced (a value that starts with '*' or '&' must be quoted)"},
		// An unquoted secret that starts with '*' reads as an alias: the message must not quote it.
		{"yaml_secret_as_alias.yaml", "", "unknown anchor '…' referenced"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := loadFile(t, tt.file)
			if strings.Contains(tt.want, "unknown key") {
				require.ErrorIs(t, err, ErrUnknownKey, "the sentinel survives the position")
			} else {
				require.ErrorIs(t, err, ErrInvalidValue, "the sentinel survives the position")
			}
			first, _, _ := strings.Cut(err.Error(), "\n")
			where := filepath.Join("testdata", tt.file) + ":" + tt.where + ": "
			if tt.where == "" {
				where = filepath.Join("testdata", tt.file) + ": "
			}
			require.True(t, strings.HasPrefix(first, where), first)
			require.Contains(t, first, tt.want)
			require.NotContains(t, err.Error(), marker)
		})
	}
}
