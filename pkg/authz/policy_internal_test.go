package authz

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPolicyParsesEmailStrictly checks the policy on its own, for sessions whose address never went
// through today's ID-token check (stored by an older release): a malformed address matches no domain.
func TestPolicyParsesEmailStrictly(t *testing.T) {
	p := compileRule(Rule{EmailDomains: []string{"example.com"}})
	tests := []struct {
		email string
		ok    bool
	}{
		{"alice@example.com", true},
		{"alice@Example.COM", true},
		{"mallory@evil.com@example.com", false},
		{`"Mallory" <m@example.com>`, false},
		{"m@example.com ", false},
		{"m@example.com.evil.com", false},
		{"m@sub.example.com", false},
		{"@example.com", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.email, func(t *testing.T) {
			reason := p.refuse(&Identity{Email: tt.email})
			if tt.ok {
				require.Empty(t, reason)
			} else {
				require.Equal(t, "email domain not allowed", reason)
			}
		})
	}
}

// TestRefuseAgreesWithExplain: the engine's check (refuse) and authbridge explain (explain) decide alike
// for every rule and identity, since explain is only as good as that.
func TestRefuseAgreesWithExplain(t *testing.T) {
	rules := []Rule{
		{},
		{Groups: []string{"admin"}},
		{Emails: []string{"Alice@example.com"}},
		{EmailDomains: []string{"example.com"}},
		{Emails: []string{"boss@partner.test"}, EmailDomains: []string{"example.com"}},
		{Claims: map[string][]string{"role": {"editor"}, "tier": {"gold", "silver"}}},
		{Groups: []string{"admin", "ops"}, EmailDomains: []string{"example.com"}, Claims: map[string][]string{"role": {"editor"}}},
	}
	ids := []Identity{
		{},
		{Email: "alice@example.com", Groups: []string{"admin"}, Claims: map[string][]string{"role": {"editor"}, "tier": {"gold"}}},
		{Email: "boss@partner.test", Groups: []string{"ops"}, Claims: map[string][]string{"role": {"viewer"}}},
		{Email: "a@b@example.com", Groups: []string{"staff"}, Claims: map[string][]string{"tier": {"silver"}}},
		{Email: "bob@example.com", Claims: map[string][]string{"role": {"editor"}, "tier": nil}},
	}
	for i, r := range rules {
		rl := compileRule(r)
		for j := range ids {
			allowed := true
			for _, c := range rl.explain(&ids[j]) {
				allowed = allowed && c.Passed
			}
			require.Equal(t, rl.refuse(&ids[j]) == "", allowed, "rule %d, identity %d", i, j)
		}
	}
}

// TestSelectRouteAllocatesNothing: matching costs no allocation, with or without routes, unless the path
// needs rewriting.
func TestSelectRouteAllocatesNothing(t *testing.T) {
	none, err := CompilePolicy(Policy{Groups: []string{"admin"}})
	require.NoError(t, err)
	some, err := CompilePolicy(Policy{Routes: []Route{
		{Name: "admin", Host: "admin.example.com", Require: Rule{Groups: []string{"admin"}}},
		{Host: "*.example.com", Path: "/static", Methods: []string{"GET"}, Public: true},
		{Name: "api", Path: "/api", Require: Rule{Claims: map[string][]string{"role": {"x"}}}},
	}})
	require.NoError(t, err)
	req := &Request{Method: "GET", Host: "App.Example.com:443", URI: "/api/items?page=2"}
	named := &Request{Method: "GET", Host: "app.example.com", URI: "/x", Route: "admin"}
	for name, f := range map[string]func(){
		"no routes":   func() { _ = none.selectRoute(req) },
		"routes":      func() { _ = some.selectRoute(req) },
		"named route": func() { _ = some.selectRoute(named) },
	} {
		require.Zero(t, testing.AllocsPerRun(100, f), name)
	}
	require.Equal(t, 2, some.selectRoute(req).route.index)
}

// TestRefuseByGroupAndClaim: a rule's groups and claim values admit a user who has one of them and
// refuse one who has only others (another group, another value), none, or a different spelling.
func TestRefuseByGroupAndClaim(t *testing.T) {
	groups := compileRule(Rule{Groups: []string{"admin", "ops"}})
	claims := compileRule(Rule{Claims: map[string][]string{"role": {"editor", "owner"}}})
	tests := []struct {
		name string
		rule rule
		id   Identity
		want string
	}{
		{"in the first group", groups, Identity{Groups: []string{"admin"}}, ""},
		{"in the second group, among others", groups, Identity{Groups: []string{"staff", "ops"}}, ""},
		{"in another group", groups, Identity{Groups: []string{"staff"}}, "not in an allowed group"},
		{"in other groups", groups, Identity{Groups: []string{"staff", "guests"}}, "not in an allowed group"},
		{"in no group", groups, Identity{}, "not in an allowed group"},
		{"group of another case", groups, Identity{Groups: []string{"Admin"}}, "not in an allowed group"},
		{"group as a claim", groups, Identity{Claims: map[string][]string{"groups": {"admin"}}}, "not in an allowed group"},
		{"claim value listed", claims, Identity{Claims: map[string][]string{"role": {"owner"}}}, ""},
		{"claim another value", claims, Identity{Claims: map[string][]string{"role": {"viewer"}}}, "claim not satisfied"},
		{"claim value under another name", claims, Identity{Claims: map[string][]string{"tier": {"editor"}}}, "claim not satisfied"},
		{"claim value as a group", claims, Identity{Groups: []string{"editor"}}, "claim not satisfied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.rule.refuse(&tt.id))
		})
	}
}
