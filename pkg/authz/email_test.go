package authz_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/pkg/authz"
	"github.com/authbridge/authbridge/pkg/devidp"
)

// TestEmailPolicyAgainstTheProvider logs in through devidp as users whose address is unverified or
// adversarial, and checks what policy.email_domains and the upstream make of it: only a verified,
// strictly well-formed address counts, and its domain must be exactly an allowed one.
func TestEmailPolicyAgainstTheProvider(t *testing.T) {
	example := []string{"example.com"}
	tests := []struct {
		name       string
		email      string
		unverified bool
		allowUnver bool // oidc.allow_unverified_email
		domains    []string
		wantStatus int    // 200 allow, 403 deny
		wantEmail  string // X-Auth-Request-Email on allow
	}{
		{"verified in domain", "m@example.com", false, false, example, 200, "m@example.com"},
		{"domain case differs", "m@EXAMPLE.com", false, false, example, 200, "m@EXAMPLE.com"},
		{"unverified in domain", "m@example.com", true, false, example, 403, ""},
		{"unverified, no policy: allowed without an email", "m@example.com", true, false, nil, 200, ""},
		{"unverified, explicitly allowed", "m@example.com", true, true, example, 200, "m@example.com"},
		{"two @, last one allowed", "mallory@evil.com@example.com", false, false, example, 403, ""},
		{"two @, even when unverified is allowed", "a@b@example.com", true, true, example, 403, ""},
		{"display name", `"Mallory" <m@example.com>`, false, false, example, 403, ""},
		{"angle brackets", "<m@example.com>", false, false, example, 403, ""},
		{"trailing space", "m@example.com ", false, false, example, 403, ""},
		{"allowed domain as a prefix", "m@example.com.evil.com", false, false, example, 403, ""},
		{"subdomain is not the domain", "m@sub.example.com", false, false, example, 403, ""},
		{"subdomain when configured", "m@sub.example.com", false, false, []string{"sub.example.com"}, 200, "m@sub.example.com"},
		{"empty local part", "@example.com", false, false, example, 403, ""},
		{"Cyrillic look-alike domain", "m@exаmple.com", false, false, example, 403, ""},
		{"Kelvin sign folds to k", "m@example.\u212aom", false, false, []string{"example.kom"}, 403, ""},
		{"malformed, no policy: allowed without an email", "mallory@evil.com@example.com", false, false, nil, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			usr := devidp.User{Username: "m", Password: "pw", Email: tt.email, EmailUnverified: tt.unverified}
			env := enginetest.New(t, enginetest.Options{AutoLogin: "m", Users: []devidp.User{usr}, AllowUnverifiedEmail: tt.allowUnver,
				Engine: authz.Options{Policy: authz.Policy{EmailDomains: tt.domains}}})
			cookie, _ := env.Login(t, "/")
			d, err := env.Engine.Decide(ctx, enginetest.Navigate("/", cookie))
			require.NoError(t, err)
			require.Equal(t, tt.wantStatus, d.Status, d.Reason)
			if tt.wantStatus == http.StatusOK {
				require.Equal(t, authz.Allow, d.Outcome)
				require.Equal(t, []string{tt.wantEmail}, d.Upstream.Values(authz.HeaderEmail),
					"the header is always set, so a client's own copy is overwritten")
				return
			}
			require.Equal(t, "email domain not allowed", d.Reason)
			require.Nil(t, d.Upstream)
		})
	}
}

// TestEmailRuleOnRefresh: the ID token of a refresh obeys the same rule as the one of the login. An
// address that stops being verified stops counting at the next refresh, and one verified later counts.
func TestEmailRuleOnRefresh(t *testing.T) {
	usr := devidp.User{Username: "m", Password: "pw", Email: "m@example.com"}
	env := enginetest.New(t, enginetest.Options{AutoLogin: "m", Users: []devidp.User{usr}, TokenTTL: 10 * time.Minute,
		Engine: authz.Options{Policy: authz.Policy{EmailDomains: []string{"example.com"}}}})
	cookie, _ := env.Login(t, "/")
	decide := func() *authz.Decision {
		t.Helper()
		d, err := env.Engine.Decide(ctx, enginetest.Navigate("/", cookie))
		require.NoError(t, err)
		return d
	}
	require.Equal(t, authz.Allow, decide().Outcome)

	env.IDP.SetEmailVerified("m", false)
	env.Clock.Advance(9*time.Minute + 30*time.Second) // inside refresh_ahead: the next check refreshes
	d := decide()
	require.Equal(t, 1, env.IDP.Stats().TokenCalls["refresh_token"])
	require.Equal(t, http.StatusForbidden, d.Status, d.Reason)

	env.IDP.SetEmailVerified("m", true)
	env.Clock.Advance(10 * time.Minute)
	d = decide()
	require.Equal(t, 2, env.IDP.Stats().TokenCalls["refresh_token"])
	require.Equal(t, authz.Allow, d.Outcome, d.Reason)
	require.Equal(t, "m@example.com", d.Upstream.Get(authz.HeaderEmail))
}
