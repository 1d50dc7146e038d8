package oauth2proxy_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/pkg/convert/oauth2proxy"
)

// base is a minimal configuration that converts; each test adds its own settings.
const base = `provider = "oidc"
oidc_issuer_url = "https://login.example.com/"
client_id = "app"
redirect_url = "https://app.example.com/oauth2/callback"
`

// TestPrecedence: flags over environment over config file, as oauth2-proxy applies them, whole values
// (a list from a stronger source replaces the weaker one's, it is not merged).
func TestPrecedence(t *testing.T) {
	tests := []struct {
		name string
		file string
		env  []string
		args []string
		want string // in the output YAML
	}{
		{"file", `email_domains = ["file.example"]`, nil, nil, "- file.example"},
		{"env over file", `email_domains = ["file.example"]`, []string{"OAUTH2_PROXY_EMAIL_DOMAINS=env.example"}, nil, "- env.example"},
		{"flag over env and file", `email_domains = ["file.example"]`, []string{"OAUTH2_PROXY_EMAIL_DOMAINS=env.example"}, []string{"--email-domain=flag.example"}, "- flag.example"},
		{"repeated flag is a list", "", nil, []string{"--email-domain", "a.example", "--email-domain=b.example,c.example"}, "- a.example\n    - b.example\n    - c.example"},
		{"env list is comma-separated", "", []string{"OAUTH2_PROXY_EMAIL_DOMAINS=a.example, b.example"}, nil, "- a.example\n    - b.example"},
		{"single-dash flag", "", nil, []string{"-email-domain=dash.example"}, "- dash.example"},
		{"other programs' variables are ignored", `email_domains = ["file.example"]`, []string{"EMAIL_DOMAINS=x", "OAUTH2_PROXY=y"}, nil, "- file.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := oauth2proxy.Convert(oauth2proxy.Input{ConfigFile: []byte(base + tt.file), Env: tt.env, Args: tt.args})
			require.NoError(t, err)
			require.Contains(t, string(res.YAML), "email_domains:\n    "+tt.want+"\n")
		})
	}
}

// TestBadInput: input that oauth2-proxy would not read either is an error naming the problem.
func TestBadInput(t *testing.T) {
	tests := []struct {
		name string
		in   oauth2proxy.Input
		want string
	}{
		{"malformed TOML", oauth2proxy.Input{ConfigFile: []byte("email_domains = [")}, "config file"},
		{"flag without value", oauth2proxy.Input{Args: []string{"--client-id"}}, "flag --client-id has no value"},
		{"not a flag", oauth2proxy.Input{Args: []string{"oidc"}}, `argument "oidc" is not a flag`},
		{"--config among the flags", oauth2proxy.Input{Args: []string{"--config=/etc/oauth2-proxy.cfg"}}, "give the file to convert's own --config"},
		{"malformed alpha config", oauth2proxy.Input{AlphaConfig: []byte("providers: [")}, "alpha config"},
		{"provider both ways", oauth2proxy.Input{ConfigFile: []byte(base), AlphaConfig: []byte("providers:\n- clientID: other\n")}, "providers[0].clientID and client_id (config file)"},
		{"a table in TOML", oauth2proxy.Input{ConfigFile: []byte("[section]\nx = 1\n")}, "section"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := oauth2proxy.Convert(tt.in)
			require.ErrorIs(t, err, oauth2proxy.ErrInput)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

// TestRefusals is the table of security-relevant settings: each alone stops the conversion with a
// refusal naming it; acknowledged, it converts, and the output is never less strict than authbridge's
// defaults. Settings whose loss would let more users in are refused even when acknowledged.
func TestRefusals(t *testing.T) {
	tests := []struct {
		setting, name string
		ackable       bool
		notInOutput   string // what the acknowledged output must not say
	}{
		{`skip_jwt_bearer_tokens = true`, "skip_jwt_bearer_tokens", true, "bearer"},
		{`ssl_insecure_skip_verify = true`, "ssl_insecure_skip_verify", true, "insecure"},
		{`insecure_oidc_allow_unverified_email = true`, "insecure_oidc_allow_unverified_email", true, "allow_unverified_email"},
		{`skip_auth_routes = ["^/public"]`, "skip_auth_routes", true, "public"},
		{`skip_auth_regex = ["^/static/"]`, "skip_auth_regex", true, "public"},
		{`skip_auth_preflight = true`, "skip_auth_preflight", true, "OPTIONS"},
		{`trusted_ips = ["0.0.0.0/0"]`, "trusted_ips", true, "0.0.0.0/0"},
		{`whitelist_domains = ["*.example.com"]`, "whitelist_domains", true, "*"},
		{`whitelist_domains = ["example.com:*"]`, "whitelist_domains", true, ":*"},
		{`cookie_secure = false`, "cookie_secure", true, "secure"},
		{`cookie_secure = "false"`, "cookie_secure", true, "secure"},
		{`email_domains = ["*"]`, "email_domains", true, "email_domains"},
		{`pass_access_token = true`, "pass_access_token", true, "access_token"},
		{`set_authorization_header = true`, "set_authorization_header", true, "id_token"},
		{`pass_authorization_header = true`, "pass_authorization_header", true, "id_token"},
		{`redis_insecure_skip_tls_verify = true`, "redis_insecure_skip_tls_verify", true, "insecure"},
		{`extra_jwt_issuers = ["https://other/=api"]`, "extra_jwt_issuers", true, "other"},
		{`authenticated_emails_file = "/etc/emails"`, "authenticated_emails_file", false, ""},
		{`allowed_roles = ["admin"]`, "allowed_roles", false, ""},
		{`google_groups = ["admins@example.com"]`, "google_groups", false, ""},
		{`email_domains = [".example.com"]`, "email_domains", false, ""},
		{`email_domains = ["*.example.com"]`, "email_domains", false, ""},
		{`github_org = "acme"`, "github_org", false, ""},
		{`cookie_secure = "maybe"`, "cookie_secure", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.setting, func(t *testing.T) {
			file := base + tt.setting + "\n"
			if !strings.HasPrefix(tt.setting, "email_domains") {
				file += `email_domains = ["example.com"]` + "\n"
			}
			in := oauth2proxy.Input{ConfigFile: []byte(file)}
			res, err := oauth2proxy.Convert(in)
			require.ErrorIs(t, err, oauth2proxy.ErrRefused)
			require.ErrorContains(t, err, tt.name)
			require.Nil(t, res.YAML, "nothing is written")
			var refused []oauth2proxy.Note
			for _, n := range res.Notes {
				if n.Refused {
					refused = append(refused, n)
				}
			}
			require.Len(t, refused, 1)
			require.Equal(t, tt.name, refused[0].Option)
			require.Equal(t, tt.ackable, refused[0].Acknowledgeable)

			in.Acknowledged = []string{"some_other_option", tt.name}
			res, err = oauth2proxy.Convert(in)
			if !tt.ackable {
				require.ErrorIs(t, err, oauth2proxy.ErrRefused, "acknowledging cannot carry it over")
				return
			}
			require.NoError(t, err)
			require.NotContains(t, string(res.YAML), tt.notInOutput)
			require.NotContains(t, string(res.YAML), "secure: false")
		})
	}
}

// TestSecretsNeverWritten: the output and the notes hold no secret of the input.
func TestSecretsNeverWritten(t *testing.T) {
	const s = "Sup3r-S3cret-Value"
	in := oauth2proxy.Input{
		ConfigFile: []byte(base + `email_domains = ["example.com"]
client_secret = "` + s + `1"
cookie_secret = "` + s + `2"
session_store_type = "redis"
redis_connection_url = "redis://user:` + s + `3@redis:6379/0"
basic_auth_password = "` + s + `4"
`),
		Env:  []string{"OAUTH2_PROXY_REDIS_PASSWORD=" + s + "5"},
		Args: []string{"--cookie-secret", s + "6"},
	}
	res, err := oauth2proxy.Convert(in)
	require.NoError(t, err)
	require.NotContains(t, string(res.YAML), s)
	require.Contains(t, string(res.YAML), "url: redis://user@redis:6379/0")
	for _, n := range res.Notes {
		require.NotContains(t, n.String(), s)
	}
}

// TestRedisURLPasswordNeverWritten: a Redis URL whose password holds a character that ends the user info
// ('/', '?', '#': a password oauth2-proxy's users wrote unencoded) parses with the password's tail in the
// path, query or fragment, and one that does not parse is no URL at all; either is refused, and none of
// the password may reach the output, the notes or the error. Each URL is tried as redis_connection_url
// and, where it names a node, as a Sentinel and as a Cluster node (written as host:port).
func TestRedisURLPasswordNeverWritten(t *testing.T) {
	const s = "Sup3r-S3cret-Value"
	asURL := func(raw string) string { return "redis_connection_url = \"" + raw + "\"\n" }
	asSentinel := func(raw string) string {
		return "redis_use_sentinel = true\nredis_sentinel_master_name = \"m\"\nredis_sentinel_connection_urls = [\"redis://s0:26379\", \"" + raw + "\"]\n"
	}
	asCluster := func(raw string) string {
		return "redis_use_cluster = true\nredis_cluster_connection_urls = [\"redis://n0:6379\", \"" + raw + "\"]\n"
	}
	var rows []string
	for _, raw := range []string{
		"redis://user:123/" + s + "@redis:6379/0",
		"redis://:123/" + s + "@redis:6379",
		"redis://user:123?" + s + "=1@redis:6379",
		"redis://user:123#" + s + "@redis:6379",
		"rediss://123/" + s + "@redis",
	} {
		rows = append(rows, asURL(raw))
	}
	for _, raw := range []string{
		"redis://user:" + s + "%zz@s1:26379",
		"user:" + s + "@s1:26379",
		"redis://user:123/" + s + "@s1:26379",
		"redis://user:123#" + s + "@s1:26379",
		":" + s + "@s1:26379",
	} {
		rows = append(rows, asSentinel(raw), asCluster(raw))
	}
	for _, row := range rows {
		t.Run(row, func(t *testing.T) {
			res, err := oauth2proxy.Convert(oauth2proxy.Input{ConfigFile: []byte(base + `email_domains = ["example.com"]
session_store_type = "redis"
` + row)})
			require.ErrorIs(t, err, oauth2proxy.ErrRefused, "the URL cannot be carried over safely")
			require.NotContains(t, err.Error(), s)
			require.NotContains(t, string(res.YAML), s)
			require.NotContains(t, string(res.YAML), "123", "no part of the password")
			for _, n := range res.Notes {
				require.NotContains(t, n.String(), s)
			}
		})
	}
}

// TestInputErrorsHoldNoSecret: a config file or alpha config that does not parse is refused with an
// error naming where, never quoting what is there (the broken line may be a client or cookie secret,
// which TOML and YAML parsers quote in part). Each row is a malformed input around a secret.
func TestInputErrorsHoldNoSecret(t *testing.T) {
	const s = "Sup3rSecretValue"
	tests := []struct {
		name  string
		in    oauth2proxy.Input
		where string // the error names it
	}{
		{"unquoted TOML value", oauth2proxy.Input{ConfigFile: []byte("client_id = \"app\"\nclient_secret = " + s + "\n")}, "line 2"},
		{"TOML value with a space", oauth2proxy.Input{ConfigFile: []byte("cookie_secret = " + s + " x\n")}, "line 1"},
		{"TOML value starting with digits", oauth2proxy.Input{ConfigFile: []byte("client_secret = 12" + s + "\n")}, "line 1"},
		{"TOML bad escape", oauth2proxy.Input{ConfigFile: []byte("client_secret = \"" + s + "\\q\"\n")}, "line 1"},
		{"alpha secret of the wrong type", oauth2proxy.Input{AlphaConfig: []byte("providers:\n- clientID: app\n  clientSecret: [" + s + "]\n")}, "alpha config"},
		{"alpha list where a map goes", oauth2proxy.Input{AlphaConfig: []byte("providers: " + s + "\n")}, "alpha config"},
		{"alpha bad indentation", oauth2proxy.Input{AlphaConfig: []byte("providers:\n- clientSecret: " + s + "\n clientID: x\n")}, "alpha config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := oauth2proxy.Convert(tt.in)
			require.ErrorIs(t, err, oauth2proxy.ErrInput)
			require.ErrorContains(t, err, tt.where)
			for i := 3; i <= len(s); i++ {
				require.NotContains(t, err.Error(), s[:i], "the error quotes the secret")
			}
			require.NotContains(t, err.Error(), "'S'", "the error quotes the secret's first character")
		})
	}
}
