package authz_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/pkg/authz"
)

const roles = "https://example.com/roles"

// TestRequirements checks each kind of requirement on its own and together, against identities as a
// session or a verified token gives them.
func TestRequirements(t *testing.T) {
	alice := authz.Identity{Subject: "auth0|alice", Email: "alice@example.com", Groups: []string{"admin", "staff"},
		Claims: map[string][]string{roles: {"editor", "viewer"}, "tier": {"gold"}}}
	tests := []struct {
		name string
		rule authz.Rule
		id   authz.Identity
		want bool
	}{
		{"no requirement", authz.Rule{}, authz.Identity{}, true},
		{"group any of", authz.Rule{Groups: []string{"ops", "admin"}}, alice, true},
		{"group none of", authz.Rule{Groups: []string{"ops"}}, alice, false},
		{"group case matters", authz.Rule{Groups: []string{"Admin"}}, alice, false},
		{"group without groups", authz.Rule{Groups: []string{"admin"}}, authz.Identity{Email: "a@example.com"}, false},
		{"email listed", authz.Rule{Emails: []string{"bob@example.com", "alice@example.com"}}, alice, true},
		{"email listed, ASCII case aside", authz.Rule{Emails: []string{"Alice@Example.COM"}}, alice, true},
		{"email not listed", authz.Rule{Emails: []string{"bob@example.com"}}, alice, false},
		{"email: no verified address", authz.Rule{Emails: []string{"alice@example.com"}}, authz.Identity{Groups: alice.Groups}, false},
		{"email: malformed address", authz.Rule{Emails: []string{"alice@example.com"}}, authz.Identity{Email: "alice@example.com@evil.test"}, false},
		{"email domain", authz.Rule{EmailDomains: []string{"example.com"}}, alice, true},
		{"email domain is exact", authz.Rule{EmailDomains: []string{"example.com"}}, authz.Identity{Email: "m@sub.example.com"}, false},
		{"emails or domains: listed", authz.Rule{Emails: []string{"boss@partner.test"}, EmailDomains: []string{"example.com"}}, authz.Identity{Email: "boss@partner.test"}, true},
		{"emails or domains: domain", authz.Rule{Emails: []string{"boss@partner.test"}, EmailDomains: []string{"example.com"}}, alice, true},
		{"emails or domains: neither", authz.Rule{Emails: []string{"boss@partner.test"}, EmailDomains: []string{"example.com"}}, authz.Identity{Email: "x@partner.test"}, false},
		{"claim from a list", authz.Rule{Claims: map[string][]string{roles: {"owner", "editor"}}}, alice, true},
		{"claim from a string", authz.Rule{Claims: map[string][]string{"tier": {"gold"}}}, alice, true},
		{"claim value not held", authz.Rule{Claims: map[string][]string{roles: {"owner"}}}, alice, false},
		{"claim missing", authz.Rule{Claims: map[string][]string{"dept": {"it"}}}, alice, false},
		{"claim without values (a number, say)", authz.Rule{Claims: map[string][]string{"level": {"1"}}}, authz.Identity{Claims: map[string][]string{"level": nil}}, false},
		{"every claim must hold", authz.Rule{Claims: map[string][]string{roles: {"editor"}, "tier": {"silver"}}}, alice, false},
		{"every claim holds", authz.Rule{Claims: map[string][]string{roles: {"editor"}, "tier": {"silver", "gold"}}}, alice, true},
		{"every kind must hold", authz.Rule{Groups: []string{"admin"}, EmailDomains: []string{"other.test"}}, alice, false},
		{"every kind holds", authz.Rule{Groups: []string{"admin"}, EmailDomains: []string{"example.com"}, Claims: map[string][]string{roles: {"viewer"}}}, alice, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cp := compile(t, authz.Policy{Routes: []authz.Route{{Path: "/", Require: tt.rule}}})
			x := cp.Explain(&authz.Request{Method: "GET", Host: "app.example.com", URI: "/"}, &tt.id)
			require.Equal(t, 0, x.Route)
			require.Equal(t, tt.want, x.Allowed, "%+v", x.Checks)
			for _, c := range x.Checks {
				if tt.id.Email != "" {
					require.NotContains(t, c.Detail, tt.id.Email, "an explanation never holds the address")
				}
			}
		})
	}
}

func TestExplain(t *testing.T) {
	cp := compile(t, estate)
	bob := &authz.Identity{Subject: "auth0|bob", Email: "bob@example.com", Groups: []string{"staff"}}
	t.Run("route and failed check", func(t *testing.T) {
		x := cp.Explain(&authz.Request{Method: "GET", Host: "admin.example.com", URI: "/x"}, bob)
		require.Equal(t, "policy.routes[0] (admin)", x.Label)
		require.False(t, x.Allowed)
		require.Equal(t, []authz.Check{{Requirement: "groups: one of [admin]", Detail: "groups [staff]"}}, x.Checks)
	})
	t.Run("default rule passes", func(t *testing.T) {
		x := cp.Explain(&authz.Request{Method: "GET", Host: "elsewhere.test", URI: "/"}, bob)
		require.Equal(t, -1, x.Route)
		require.Contains(t, x.Label, "default rule")
		require.True(t, x.Allowed)
		require.Equal(t, []authz.Check{{Requirement: "groups: one of [staff]", Passed: true, Detail: "groups [staff]"}}, x.Checks)
	})
	t.Run("public needs no identity", func(t *testing.T) {
		x := cp.Explain(&authz.Request{Method: "GET", Host: "app.example.com", URI: "/static/a.css"}, nil)
		require.True(t, x.Public)
		require.True(t, x.Allowed)
		require.Empty(t, x.Checks)
	})
	t.Run("without identity nothing else is allowed", func(t *testing.T) {
		x := cp.Explain(&authz.Request{Method: "GET", Host: "tenant.tenants.example.com", URI: "/"}, nil)
		require.Equal(t, 5, x.Route)
		require.False(t, x.Allowed, "a login is needed even for a route without requirements")
		require.Empty(t, x.Checks)
	})
	t.Run("email detail names the domain only", func(t *testing.T) {
		p := compile(t, authz.Policy{EmailDomains: []string{"example.com"}})
		x := p.Explain(&authz.Request{Method: "GET", Host: "a.test", URI: "/"}, &authz.Identity{Email: "carol@other.test"})
		require.Equal(t, "the verified address (at other.test) is neither listed nor in a listed domain", x.Checks[0].Detail)
		require.NotContains(t, x.Checks[0].Detail, "carol")
	})
}
