package config

import (
	"net/netip"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// minimalEnv is a complete configuration from the environment alone, plus variables Load ignores.
func minimalEnv() []string {
	return []string{
		"AUTHBRIDGE_OIDC_ISSUER_URL=https://idp.example.com",
		"AUTHBRIDGE_OIDC_CLIENT_ID=authbridge",
		"AUTHBRIDGE_OIDC_REDIRECT_URL=https://auth.example.com/oauth2/callback",
		"AUTHBRIDGE_SESSION_REDIS_URL=redis://127.0.0.1:6379",
		"AUTHBRIDGE_SESSION_COOKIE_SECRET=" + testCookieKey,
		"PATH=/usr/bin", "AUTHBRIDGEX=ignored", "NOT_AUTHBRIDGE_X=ignored", "NOEQUALS",
	}
}

func withEnv(kv ...string) []string { return append(minimalEnv(), kv...) }

func TestLoadEnvOnly(t *testing.T) {
	c, err := Load("", minimalEnv())
	require.NoError(t, err)
	require.Equal(t, "https://idp.example.com", c.OIDC.IssuerURL)
	require.Equal(t, "redis://127.0.0.1:6379", c.Session.Redis.URL)
	require.Equal(t, HostCookieName, c.Session.Cookie.Name)
}

func TestLoadEnvOverrides(t *testing.T) {
	tests := []struct {
		name  string
		file  string // in testdata; "" for none
		env   []string
		check func(t *testing.T, c *Config)
	}{
		{"string over file", "valid_minimal.yaml", []string{"AUTHBRIDGE_OIDC_CLIENT_ID=from-env"}, func(t *testing.T, c *Config) {
			require.Equal(t, "from-env", c.OIDC.ClientID)
		}},
		{"list", "", withEnv("AUTHBRIDGE_OIDC_SCOPES=openid, email ,,groups"), func(t *testing.T, c *Config) {
			require.Equal(t, []string{"openid", "email", "groups"}, c.OIDC.Scopes)
		}},
		{"empty list trusts no proxy", "", withEnv("AUTHBRIDGE_TRUSTED_PROXIES="), func(t *testing.T, c *Config) {
			require.Empty(t, c.TrustedProxies)
			require.Empty(t, c.TrustedProxyPrefixes)
		}},
		{"bare IPs", "", withEnv("AUTHBRIDGE_TRUSTED_PROXIES=10.0.0.1,::1,10.9.8.7/8"), func(t *testing.T, c *Config) {
			require.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.0.0.1/32"), netip.MustParsePrefix("::1/128"),
				netip.MustParsePrefix("10.0.0.0/8")}, c.TrustedProxyPrefixes)
		}},
		{"map", "", withEnv("AUTHBRIDGE_OIDC_EXTRA_AUTH_PARAMS=prompt=login, connection=github,x="), func(t *testing.T, c *Config) {
			require.Equal(t, map[string]string{"prompt": "login", "connection": "github", "x": ""}, c.OIDC.ExtraAuthParams)
		}},
		{"bool false switches cookie name", "", withEnv("AUTHBRIDGE_SESSION_COOKIE_SECURE=false"), func(t *testing.T, c *Config) {
			require.False(t, c.Session.Cookie.Secure)
			require.Equal(t, PlainCookieName, c.Session.Cookie.Name)
		}},
		{"bool over file", "valid_full.yaml", []string{"AUTHBRIDGE_SESSION_COOKIE_SECURE=0"}, func(t *testing.T, c *Config) {
			require.False(t, c.Session.Cookie.Secure)
			require.Equal(t, "_ab", c.Session.Cookie.Name)
		}},
		{"durations", "", withEnv("AUTHBRIDGE_SESSION_IDLE_TIMEOUT=30m", "AUTHBRIDGE_SESSION_REFRESH_AHEAD=0s"), func(t *testing.T, c *Config) {
			require.Equal(t, 30*time.Minute, c.Session.IdleTimeout)
			require.Zero(t, c.Session.RefreshAhead)
		}},
		{"secret", "", withEnv("AUTHBRIDGE_OIDC_CLIENT_SECRET=s3"), func(t *testing.T, c *Config) {
			require.Equal(t, "s3", c.OIDC.ClientSecret.Reveal())
		}},
		{"secret file", "", withEnv("AUTHBRIDGE_OIDC_CLIENT_SECRET_FILE=testdata/client_secret.txt"), func(t *testing.T, c *Config) {
			require.Equal(t, "client-"+marker, c.OIDC.ClientSecret.Reveal())
		}},
		{"empty string clears", "valid_full.yaml", []string{"AUTHBRIDGE_OIDC_AUDIENCE="}, func(t *testing.T, c *Config) {
			require.Empty(t, c.OIDC.Audience)
		}},
		{"store and sentinel", "", withEnv("AUTHBRIDGE_SESSION_REDIS_URL=", "AUTHBRIDGE_SESSION_REDIS_ADDRS=s0:26379,s1:26379",
			"AUTHBRIDGE_SESSION_REDIS_MASTER_NAME=m"), func(t *testing.T, c *Config) {
			require.Equal(t, Redis{Addrs: []string{"s0:26379", "s1:26379"}, MasterName: "m", Timeout: 150 * time.Millisecond}, c.Session.Redis)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = "testdata/" + tt.file
			}
			c, err := Load(path, tt.env)
			require.NoError(t, err)
			tt.check(t, c)
		})
	}
}

func TestLoadEnvErrors(t *testing.T) {
	tests := []struct {
		name    string
		env     []string
		wantErr error
		wantMsg string
	}{
		{"unknown var", []string{"AUTHBRIDGE_OIDC_CLIENTID=x"}, ErrUnknownKey, "environment variable AUTHBRIDGE_OIDC_CLIENTID matches no key"},
		{"section is not a key", []string{"AUTHBRIDGE_SESSION=x"}, ErrUnknownKey, "AUTHBRIDGE_SESSION "},
		{"derived field has no key", []string{"AUTHBRIDGE_TRUSTED_PROXY_PREFIXES=10.0.0.0/8"}, ErrUnknownKey, "AUTHBRIDGE_TRUSTED_PROXY_PREFIXES"},
		{"bad bool", []string{"AUTHBRIDGE_SESSION_COOKIE_SECURE=nah"}, ErrInvalidValue, "session.cookie.secure (from AUTHBRIDGE_SESSION_COOKIE_SECURE): want true or false"},
		{"bad duration", []string{"AUTHBRIDGE_OIDC_TIMEOUT=5"}, ErrInvalidValue, "oidc.timeout (from AUTHBRIDGE_OIDC_TIMEOUT): want a duration"},
		{"zero duration", []string{"AUTHBRIDGE_SESSION_LOGIN_TIMEOUT=0s"}, ErrInvalidValue, "session.login_timeout: 0s must be positive"},
		{"bad map", []string{"AUTHBRIDGE_OIDC_EXTRA_AUTH_PARAMS=prompt"}, ErrInvalidValue, "oidc.extra_auth_params (from AUTHBRIDGE_OIDC_EXTRA_AUTH_PARAMS): want k=v"},
		{"duplicate map key", []string{"AUTHBRIDGE_OIDC_EXTRA_AUTH_PARAMS=a=1,a=2"}, ErrInvalidValue, `duplicate key "a"`},
		{"reserved map key", []string{"AUTHBRIDGE_OIDC_EXTRA_AUTH_PARAMS=nonce=1"}, ErrInvalidValue, `oidc.extra_auth_params: "nonce"`},
		{"audience twice", []string{"AUTHBRIDGE_OIDC_EXTRA_AUTH_PARAMS=audience=a,b=c", "AUTHBRIDGE_OIDC_AUDIENCE=https://api.example.com"}, ErrInvalidValue, "oidc.extra_auth_params"},
		{"cidr", []string{"AUTHBRIDGE_TRUSTED_PROXIES=10.0.0.0/8,nope"}, ErrInvalidValue, `trusted_proxies: "nope"`},
		{"required emptied", []string{"AUTHBRIDGE_OIDC_CLIENT_ID="}, ErrMissing, "oidc.client_id"},
		{"secure false with host cookie", []string{"AUTHBRIDGE_SESSION_COOKIE_NAME=__host-x", "AUTHBRIDGE_SESSION_COOKIE_SECURE=false"}, ErrInvalidValue, "session.cookie.name"},
		{"secure cookie prefix", []string{"AUTHBRIDGE_SESSION_COOKIE_NAME=__Secure-x", "AUTHBRIDGE_SESSION_COOKIE_SECURE=false"}, ErrInvalidValue, "__Secure-"},
		{"secret and file", []string{"AUTHBRIDGE_SESSION_REDIS_PASSWORD=" + marker, "AUTHBRIDGE_SESSION_REDIS_PASSWORD_FILE=testdata/redis_password.txt"}, ErrInvalidValue, "session.redis.password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load("", withEnv(tt.env...))
			require.Nil(t, c)
			require.ErrorIs(t, err, tt.wantErr)
			require.Contains(t, err.Error(), tt.wantMsg)
			require.NotContains(t, err.Error(), marker)
		})
	}
}

func TestLoadNilEnvironUsesProcessEnv(t *testing.T) {
	for _, kv := range minimalEnv()[:5] {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("AUTHBRIDGE_LOG_LEVEL", "warn")
	c, err := Load("", nil)
	require.NoError(t, err)
	require.Equal(t, "warn", c.Log.Level)

	t.Setenv("AUTHBRIDGE_LOG_LEVLE", "debug")
	_, err = Load("", nil)
	require.ErrorIs(t, err, ErrUnknownKey)
	require.Contains(t, err.Error(), "AUTHBRIDGE_LOG_LEVLE")
}

// TestEveryKeyHasAnEnvVar sets each key through its variable and checks that it lands in its field.
func TestEveryKeyHasAnEnvVar(t *testing.T) {
	samples := map[string]struct {
		env  string
		want any
	}{
		"string":   {"v", "v"},
		"secret":   {"v", Secret("v")},
		"bool":     {"false", false},
		"duration": {"7m", 7 * time.Minute},
		"list":     {"a,b", []string{"a", "b"}},
		"map":      {"a=b", map[string]string{"a": "b"}},
		"integer":  {"42", 42},
		"routes": {`[{name: admin, host: admin.example.com, groups: [admin]}, {"path": "/static", "public": true}]`,
			[]Route{{Name: "admin", Host: "admin.example.com", Groups: []string{"admin"}}, {Path: "/static", Public: true}}},
	}
	seen := map[string]bool{}
	for _, f := range fields() {
		require.False(t, seen[f.env], "two keys share %s", f.env)
		seen[f.env] = true
		s := samples[kindOf(f.typ)]
		c := defaults()
		require.Empty(t, c.applyEnv([]string{f.env + "=" + s.env}), f.key)
		got := reflect.ValueOf(c).Elem().FieldByIndex(f.index).Interface()
		require.Equal(t, reflect.ValueOf(s.want).Convert(f.typ).Interface(), got, f.key)
	}
	require.Len(t, seen, 53)
}

// serviceLinks is what the kubelet injects for a Service named authbridge (cluster IP 10.96.12.34, ports
// http 4180, grpc 9191, admin 9090), one named authbridge-redis, and an IPv6 one named authbridge-v6.
var serviceLinks = []string{
	"AUTHBRIDGE_SERVICE_HOST=10.96.12.34",
	"AUTHBRIDGE_SERVICE_PORT=4180",
	"AUTHBRIDGE_SERVICE_PORT_HTTP=4180",
	"AUTHBRIDGE_SERVICE_PORT_GRPC=9191",
	"AUTHBRIDGE_SERVICE_PORT_ADMIN=9090",
	"AUTHBRIDGE_PORT=tcp://10.96.12.34:4180",
	"AUTHBRIDGE_PORT_4180_TCP=tcp://10.96.12.34:4180",
	"AUTHBRIDGE_PORT_4180_TCP_PROTO=tcp",
	"AUTHBRIDGE_PORT_4180_TCP_PORT=4180",
	"AUTHBRIDGE_PORT_4180_TCP_ADDR=10.96.12.34",
	"AUTHBRIDGE_PORT_9191_TCP=tcp://10.96.12.34:9191",
	"AUTHBRIDGE_PORT_9191_TCP_PROTO=tcp",
	"AUTHBRIDGE_PORT_9191_TCP_PORT=9191",
	"AUTHBRIDGE_PORT_9191_TCP_ADDR=10.96.12.34",
	"AUTHBRIDGE_PORT_9090_TCP=tcp://10.96.12.34:9090",
	"AUTHBRIDGE_PORT_9090_TCP_PROTO=tcp",
	"AUTHBRIDGE_PORT_9090_TCP_PORT=9090",
	"AUTHBRIDGE_PORT_9090_TCP_ADDR=10.96.12.34",
	"AUTHBRIDGE_REDIS_SERVICE_HOST=10.96.0.7",
	"AUTHBRIDGE_REDIS_SERVICE_PORT=6379",
	"AUTHBRIDGE_REDIS_SERVICE_PORT_REDIS=6379",
	"AUTHBRIDGE_REDIS_PORT=tcp://10.96.0.7:6379",
	"AUTHBRIDGE_REDIS_PORT_6379_TCP=tcp://10.96.0.7:6379",
	"AUTHBRIDGE_REDIS_PORT_6379_TCP_PROTO=tcp",
	"AUTHBRIDGE_REDIS_PORT_6379_TCP_PORT=6379",
	"AUTHBRIDGE_REDIS_PORT_6379_TCP_ADDR=10.96.0.7",
	"AUTHBRIDGE_V6_SERVICE_HOST=fd00:10:96::a",
	"AUTHBRIDGE_V6_SERVICE_PORT_DNS_UDP=53",
	"AUTHBRIDGE_V6_PORT=udp://[fd00:10:96::a]:53",
	"AUTHBRIDGE_V6_PORT_53_UDP=udp://[fd00:10:96::a]:53",
	"AUTHBRIDGE_V6_PORT_53_UDP_PROTO=udp",
	"AUTHBRIDGE_V6_PORT_132_SCTP=sctp://[fd00:10:96::a]:132",
}

// TestServiceLinksIgnored: Kubernetes service links are passed over (and named in IgnoredEnv), while
// near misses in name or value are still unknown keys.
func TestServiceLinksIgnored(t *testing.T) {
	c, err := Load("", withEnv(serviceLinks...))
	require.NoError(t, err)
	var names []string
	for _, kv := range serviceLinks {
		name, _, _ := strings.Cut(kv, "=")
		names = append(names, name)
	}
	require.Equal(t, names, c.IgnoredEnv)
	require.Equal(t, "https://idp.example.com", c.OIDC.IssuerURL, "real keys still apply")

	refused := []string{
		"AUTHBRIDGE_PORTS=tcp://10.96.12.34:4180",
		"AUTHBRIDGE_SERVICE_HOSTNAME=10.96.12.34",
		"AUTHBRIDGE_SERVICE_HOSTS=10.96.12.34",
		"AUTHBRIDGE_OIDC_CLIENTID=x",
		"AUTHBRIDGE_PORT=8080",                            // a guess at a listen key, not a link
		"AUTHBRIDGE_PORT=http://10.96.12.34:4180",         // not a protocol Kubernetes writes
		"AUTHBRIDGE_PORT=tcp://auth.example.com:4180",     // links carry the cluster IP
		"AUTHBRIDGE_PORT=tcp://10.96.12.34",               // no port
		"AUTHBRIDGE_PORT=tcp://fd00::1:4180",              // IPv6 without brackets
		"AUTHBRIDGE_SERVICE_HOST=auth.example.com",        // not an IP
		"AUTHBRIDGE_SERVICE_HOST=",                        // empty
		"AUTHBRIDGE_SERVICE_PORT=http",                    // not a number
		"AUTHBRIDGE_SERVICE_PORT=0",                       // not a port
		"AUTHBRIDGE_SERVICE_PORT=65536",                   // not a port
		"AUTHBRIDGE_SERVICE_PORT_HTTP=04180",              // not as Kubernetes writes it
		"AUTHBRIDGE_SERVICE_PORT_http=4180",               // lower case
		"AUTHBRIDGE_PORT_4180_TCP=tcp://10.96.12.34:9191", // port differs from the name
		"AUTHBRIDGE_PORT_4180_TCP=udp://10.96.12.34:4180", // protocol differs from the name
		"AUTHBRIDGE_PORT_4180_HTTP=tcp://10.96.12.34:4180",
		"AUTHBRIDGE_PORT_4180_tcp=tcp://10.96.12.34:4180",
		"AUTHBRIDGE_PORT_4180_TCP_PROTO=TCP",
		"AUTHBRIDGE_PORT_4180_TCP_PORT=9191",
		"AUTHBRIDGE_PORT_4180_TCP_ADDR=example.com",
		"AUTHBRIDGE_PORT_4180_TCP_HOST=10.96.12.34",
		"AUTHBRIDGE_PORT_99999_TCP_PORT=99999",
		"AUTHBRIDGE_PORT_4180=tcp://10.96.12.34:4180",
		"AUTHBRIDGE__SERVICE_HOST=10.96.12.34",
		"AUTHBRIDGE_SERVICE_HOST_=10.96.12.34",
		"AUTHBRIDGE_PORT_4180_TCP_ADDR_=10.96.12.34",
	}
	for _, kv := range refused {
		t.Run(kv, func(t *testing.T) {
			name, _, _ := strings.Cut(kv, "=")
			_, err := Load("", withEnv(append(slices.Clone(serviceLinks), kv)...))
			require.ErrorIs(t, err, ErrUnknownKey)
			require.Contains(t, err.Error(), "environment variable "+name+" matches no key")
		})
	}
}

// TestNoKeyLooksLikeAServiceLink: no configuration key's variable has a service-link name, so none can
// be taken for one (real keys are matched first anyway) and no future key shadows a Service's links.
func TestNoKeyLooksLikeAServiceLink(t *testing.T) {
	for _, f := range fields() {
		for _, re := range []*regexp.Regexp{linkServiceHost, linkServicePort, linkPort, linkPortProto} {
			require.False(t, re.MatchString(f.env), "%s has the shape of a service link", f.env)
		}
	}
}
