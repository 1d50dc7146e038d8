package login_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/logbuf"
	"github.com/authbridge/authbridge/pkg/login"
)

func TestParseEmail(t *testing.T) {
	tests := []struct {
		addr       string
		wantDomain string // "" means not an address
	}{
		{"alice@example.com", "example.com"},
		{"m@EXAMPLE.com", "example.com"},
		{"first.last+tag@sub.example.com", "sub.example.com"},
		{"o'brien@example.com", "example.com"},
		{"josé@example.com", "example.com"},
		{"m@localhost", "localhost"},
		{"m@xn--bcher-kva.example", "xn--bcher-kva.example"},
		{"a@b@example.com", ""},
		{"mallory@evil.com@example.com", ""},
		{`"Mallory" <m@example.com>`, ""},
		{"Mallory <m@example.com>", ""},
		{"<m@example.com>", ""},
		{`"m"@example.com`, ""},
		{`"m@evil.com"@example.com`, ""},
		{"m@example.com ", ""},
		{" m@example.com", ""},
		{"m @example.com", ""},
		{"m@example.com\n", ""},
		{"m@example.com\x00", ""},
		{"m\tx@example.com", ""},
		{"m\u202egro.live@example.com", ""}, // right-to-left override: a format character
		{"m\u00a0@example.com", ""},         // no-break space
		{"@example.com", ""},
		{"m@", ""},
		{"m", ""},
		{"", ""},
		{".m@example.com", ""},
		{"m.@example.com", ""},
		{"a..b@example.com", ""},
		{"m@example..com", ""},
		{"m@.example.com", ""},
		{"m@example.com.", ""},
		{"m@-example.com", ""},
		{"m@example-.com", ""},
		{"m@exam_ple.com", ""},
		{"m@[192.0.2.1]", ""},
		{"m@example.com:443", ""},
		{"m@example.com/x", ""},
		{"m(comment)@example.com", ""},
		{"m,n@example.com", ""},
		{`m\@x@example.com`, ""},
		{"m@exаmple.com", ""},      // Cyrillic а: a non-ASCII domain is not an address
		{"m@example.\u212aom", ""}, // Kelvin sign, which Unicode case folding equates with k
		{"m@bücher.example", ""},   // IDN in Unicode form
		{"m@example.com\xff", ""},  // invalid UTF-8
		{strings.Repeat("a", 65) + "@example.com", ""},
		{"m@" + strings.Repeat("a", 64) + ".com", ""},
		{"m@" + strings.Repeat("a.", 130) + "com", ""},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			local, domain, ok := login.ParseEmail(tt.addr)
			require.Equal(t, tt.wantDomain != "", ok)
			require.Equal(t, tt.wantDomain, domain)
			if ok {
				require.Equal(t, tt.addr, local+"@"+tt.addr[len(local)+1:])
			}
		})
	}
}

func TestEmailInDomains(t *testing.T) {
	allowed := []string{"example.com", "Corp.Example"}
	tests := []struct {
		addr string
		want bool
	}{
		{"alice@example.com", true},
		{"alice@EXAMPLE.COM", true},
		{"alice@corp.example", true},
		{"mallory@evil.com@example.com", false},
		{`"Mallory" <m@example.com>`, false},
		{"m@example.com ", false},
		{"m@example.com.evil.com", false},
		{"m@sub.example.com", false},
		{"m@evilexample.com", false},
		{"m@example.\u212aom", false},
		{"example.com", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			require.Equal(t, tt.want, login.EmailInDomains(tt.addr, allowed))
		})
	}
	require.False(t, login.EmailInDomains("alice@example.com", nil))
}

// TestIDTokenEmail: the ID token's email is kept only when email_verified is JSON true (unless
// AllowUnverifiedEmail) and the address is well-formed; a malformed one is logged without itself.
func TestIDTokenEmail(t *testing.T) {
	p := newProvider(t)
	tests := []struct {
		name       string
		claims     map[string]any
		allow      bool
		wantEmail  string
		wantWarned bool
	}{
		{"verified", map[string]any{"email_verified": true}, false, "alice@example.com", false},
		{"verified false", map[string]any{"email_verified": false}, false, "", false},
		{"verified missing", map[string]any{"email_verified": nil}, false, "", false},
		{"verified null", map[string]any{"email_verified": json.RawMessage("null")}, false, "", false},
		{"verified as string true", map[string]any{"email_verified": "true"}, false, "", false},
		{"verified as 1", map[string]any{"email_verified": 1}, false, "", false},
		{"unverified allowed", map[string]any{"email_verified": false}, true, "alice@example.com", false},
		{"missing allowed", map[string]any{"email_verified": nil}, true, "alice@example.com", false},
		{"verified but two @", map[string]any{"email_verified": true, "email": "mallory@evil.com@example.com"}, false, "", true},
		{"verified display name", map[string]any{"email_verified": true, "email": `"Mallory" <m@example.com>`}, false, "", true},
		{"verified trailing space", map[string]any{"email_verified": true, "email": "m@example.com "}, false, "", true},
		{"allowed but malformed", map[string]any{"email": "a@b@example.com"}, true, "", true},
		{"email not a string", map[string]any{"email_verified": true, "email": []string{"alice@example.com"}}, false, "", false},
		{"no email", map[string]any{"email_verified": true, "email": nil}, false, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &logbuf.Buffer{}
			lp := p.login(t, func(c *login.Config) {
				c.AllowUnverifiedEmail = tt.allow
				c.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			})
			p.answer = func(*http.Request) (int, any) { return 200, tokenResponse(p.idToken(p.key, tt.claims)) }
			tok, err := lp.Exchange(context.Background(), "code", "verifier", "n-123")
			require.NoError(t, err, "an unusable email does not fail the login")
			require.Equal(t, tt.wantEmail, tok.Claims.Email)
			require.Equal(t, "auth0|alice", tok.Claims.Subject)

			// A refresh's ID token obeys the same rule.
			refreshClaims := map[string]any{"nonce": nil}
			for k, v := range tt.claims {
				refreshClaims[k] = v
			}
			p.answer = func(*http.Request) (int, any) { return 200, tokenResponse(p.idToken(p.key, refreshClaims)) }
			tok, err = lp.Refresh(context.Background(), "rt-1")
			require.NoError(t, err)
			require.Equal(t, tt.wantEmail, tok.Claims.Email)

			require.Equal(t, tt.wantWarned, strings.Contains(logs.String(), `"level":"WARN","msg":"id token email is malformed, not used"`), logs.String())
			if email, _ := tt.claims["email"].(string); email != "" {
				require.NotContains(t, logs.String(), strings.TrimSpace(email), "the address is never logged")
			}
			require.NotContains(t, logs.String(), "alice@example.com")
		})
	}
}
