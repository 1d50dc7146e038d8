package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLoadInvalidRoutes: each malformed route is refused with a message naming the route, from
// testdata, one file per failure.
func TestLoadInvalidRoutes(t *testing.T) {
	tests := []struct {
		file    string
		wantErr error
		wantMsg string
	}{
		{"route_unknown_key.yaml", ErrUnknownKey, "testdata/route_unknown_key.yaml:14:7: config: unknown key: policy.routes[1] (admin): hots"},
		{"route_duplicate_key.yaml", ErrInvalidValue, "testdata/route_duplicate_key.yaml:12:7: config: invalid value: policy.routes[0] (admin): host: duplicate key (first at line 11)"},
		{"route_bad_host.yaml", ErrInvalidValue, `policy.routes[0] (admin): host "https://admin.example.com/" is not a host name`},
		{"route_host_port.yaml", ErrInvalidValue, `policy.routes[0] (admin): host "admin.example.com:8443"`},
		{"route_bad_wildcard.yaml", ErrInvalidValue, `policy.routes[0]: host "admin.*.example.com"`},
		{"route_relative_path.yaml", ErrInvalidValue, `policy.routes[0] (api): path "api/" must be a normalised path starting with /`},
		{"route_unnormalised_path.yaml", ErrInvalidValue, `policy.routes[0] (api): path "/static/../api"`},
		{"route_unknown_method.yaml", ErrInvalidValue, `policy.routes[0] (api): method "FETCH" is not one of GET, HEAD, POST`},
		{"route_public_with_requirements.yaml", ErrInvalidValue, "policy.routes[0] (static): public: true cannot be combined with groups"},
		{"route_duplicate_name.yaml", ErrInvalidValue, "policy.routes[1] (admin): name also used by policy.routes[0] (admin)"},
		{"route_bad_name.yaml", ErrInvalidValue, `policy.routes[0] (admin app): name "admin app"`},
		{"route_matches_nothing.yaml", ErrInvalidValue, "policy.routes[0]: needs host, path, methods, or a name"},
		{"route_bad_email.yaml", ErrInvalidValue, `policy.routes[0] (boss): emails: "Boss <boss@example.com>" is not an e-mail address`},
		{"route_bad_email_domain.yaml", ErrInvalidValue, `policy.routes[0] (boss): email_domains: "@example.com" is not a domain`},
		{"route_email_claim.yaml", ErrInvalidValue, `policy.routes[0] (boss): claims: "email" cannot be required as a claim`},
		{"route_claim_not_string.yaml", ErrInvalidValue, `policy.routes[0] (admin): claims: claim "https://example.com/level": value at line 13 is not a string`},
		{"route_claim_without_values.yaml", ErrInvalidValue, `policy.routes[0] (admin): claims: "https://example.com/roles" needs at least one allowed value`},
		{"route_not_mapping.yaml", ErrInvalidValue, "testdata/route_not_mapping.yaml:10:7: config: invalid value: policy.routes[0]: want a mapping of keys"},
		{"routes_not_list.yaml", ErrInvalidValue, "testdata/routes_not_list.yaml:9:11: config: invalid value: policy.routes: want a list of routes"},
		{"route_header_bad_name.yaml", ErrInvalidValue, `policy.routes[0] (app): headers: "X_Tenant" is not a header name`},
		{"route_header_authorization.yaml", ErrInvalidValue, `policy.routes[0] (app): headers: "Authorization" cannot be set by a route`},
		{"route_header_hop_by_hop.yaml", ErrInvalidValue, `policy.routes[0] (app): headers: "Connection" cannot be set by a route`},
		{"route_header_duplicate_case.yaml", ErrInvalidValue, `policy.routes[0] (app): headers: "X-Tenant" and "x-tenant" are the same header`},
		{"route_header_no_claim.yaml", ErrInvalidValue, `policy.routes[0] (app): headers: "X-Tenant" needs a claim name`},
		{"route_header_not_mapping.yaml", ErrInvalidValue, "policy.routes[0] (app): headers: want a mapping"},
		{"route_header_public.yaml", ErrInvalidValue, "policy.routes[0] (static): public: true cannot be combined with headers"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c, err := loadFile(t, tt.file)
			require.Nil(t, c)
			require.ErrorIs(t, err, tt.wantErr)
			require.Contains(t, err.Error(), tt.wantMsg)
			require.NotContains(t, err.Error(), marker)
		})
	}
}

func TestLoadValidRoutes(t *testing.T) {
	c, err := loadFile(t, "valid_routes.yaml")
	require.NoError(t, err)
	require.Equal(t, Policy{EmailDomains: []string{"example.com"}, Routes: []Route{
		{Name: "admin", Host: "admin.example.com", Groups: []string{"admin"}},
		{Host: "*.app.example.com", Path: "/static/", Methods: []string{"GET", "HEAD"}, Public: true},
		{Name: "editors", Path: "/edit", Emails: []string{"boss@partner.test"}, EmailDomains: []string{"example.com"},
			Claims:  map[string][]string{"https://example.com/roles": {"editor", "owner"}, "tier": {"gold"}},
			Headers: map[string]string{"X-Tenant": "https://example.com/tenant", "X-Auth-Request-Groups": "groups"}},
		{Name: "reports"},
	}}, c.Policy)
}

func TestRoutesFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		want    []Route
		wantErr error
		wantMsg string
	}{
		{"yaml flow", `[{name: admin, host: admin.example.com, groups: [admin]}]`, []Route{{Name: "admin", Host: "admin.example.com", Groups: []string{"admin"}}}, nil, ""},
		{"json", `[{"path": "/static", "public": true}, {"name": "r", "claims": {"https://example.com/roles": ["editor"]}}]`,
			[]Route{{Path: "/static", Public: true}, {Name: "r", Claims: map[string][]string{"https://example.com/roles": {"editor"}}}}, nil, ""},
		{"empty clears", "", []Route{}, nil, ""},
		{"unknown key", `[{name: admin, hots: admin.example.com}]`, nil, ErrUnknownKey, "policy.routes (from AUTHBRIDGE_POLICY_ROUTES): config: unknown key: policy.routes[0] (admin): hots"},
		{"invalid route", `[{name: admin, host: "admin.example.com:1"}]`, nil, ErrInvalidValue, `policy.routes[0] (admin): host "admin.example.com:1"`},
		{"not yaml", `[{name: admin`, nil, ErrInvalidValue, "policy.routes (from AUTHBRIDGE_POLICY_ROUTES)"},
		{"not a list", `admin`, nil, ErrInvalidValue, "policy.routes: want a list of routes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load("", withEnv("AUTHBRIDGE_POLICY_ROUTES="+tt.value))
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.Contains(t, err.Error(), tt.wantMsg)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, c.Policy.Routes)
		})
	}
}

func TestValidateRoutes(t *testing.T) {
	tests := []struct {
		name    string
		route   Route
		wantMsg string // "" means valid
	}{
		{"name only", Route{Name: "reports", Groups: []string{"x"}}, ""},
		{"catch-all", Route{Path: "/", Groups: []string{"x"}}, ""},
		{"wildcard host", Route{Host: "*.example.com"}, ""},
		{"host trailing dot", Route{Host: "admin.example.com."}, ""},
		{"path trailing slash", Route{Path: "/static/"}, ""},
		{"path with dots in a name", Route{Path: "/.well-known/x..y"}, ""},
		{"bare wildcard", Route{Host: "*"}, "host"},
		{"double slash", Route{Path: "/a//b"}, "path"},
		{"dot segment", Route{Path: "/a/./b"}, "path"},
		{"escape", Route{Path: "/a%2Fb"}, "path"},
		{"query", Route{Path: "/a?b"}, "path"},
		{"lower-case method", Route{Path: "/", Methods: []string{"get"}}, `method "get"`},
		{"method twice", Route{Path: "/", Methods: []string{"GET", "GET"}}, "method GET listed twice"},
		{"empty group", Route{Path: "/", Groups: []string{" "}}, "groups: empty group name"},
		{"empty claim value", Route{Path: "/", Claims: map[string][]string{"r": {""}}}, `claims: "r" has an empty value`},
		{"email_verified claim", Route{Path: "/", Claims: map[string][]string{"email_verified": {"true"}}}, `"email_verified" cannot be required`},
		{"name starting with a dash", Route{Name: "-x", Path: "/"}, "name"},
		{"long name", Route{Name: strings.Repeat("a", 64), Path: "/"}, "name"},
		{"public with claims", Route{Path: "/", Public: true, Claims: map[string][]string{"r": {"x"}}}, "public: true cannot be combined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.OIDC.IssuerURL, c.OIDC.ClientID, c.OIDC.RedirectURL = "https://idp.example.com", "x", "https://auth.example.com/oauth2/callback"
			c.Session.Store = "memory"
			c.Policy.Routes = []Route{tt.route}
			err := c.Validate()
			if tt.wantMsg == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalidValue)
			require.Contains(t, err.Error(), "policy.routes[0]")
			require.Contains(t, err.Error(), tt.wantMsg)
		})
	}
}
