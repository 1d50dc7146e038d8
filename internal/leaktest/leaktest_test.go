package leaktest

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

// TestFind: each recorded secret, and the session id inside a session cookie in either encoding, is
// found wherever it sits in a line; short values and unrelated text are not.
func TestFind(t *testing.T) {
	raw := make([]byte, 64)
	for i := range raw {
		raw[i] = byte(i * 7)
	}
	cookie := base64.RawURLEncoding.EncodeToString(raw)
	var s Secrets
	s.AddSessionCookie("cookie", cookie)
	s.Add("token", "eyJhbGciOiJSUzI1NiJ9.payload.signature")
	s.Add("short", "abc")
	for _, tc := range []struct {
		name, line string
		want       string // the name found; "" for none
	}{
		{"cookie value", `msg=x cookie=` + cookie, "cookie"},
		{"session id, base64url", `"session":"` + base64.RawURLEncoding.EncodeToString(raw[:32]) + `"`, "cookie session id"},
		{"session id, hex", "id=" + hex.EncodeToString(raw[:32]), "cookie session id (hex)"},
		{"token in JSON", `{"err":"bad eyJhbGciOiJSUzI1NiJ9.payload.signature"}`, "token"},
		{"short values are not looked for", "abc abc", ""},
		{"unrelated", "level=INFO msg=decision outcome=allow", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(s.Find(tc.line), ",")
			if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(","+got+",", ","+tc.want+",") {
				t.Fatalf("Find = %q, want %q", got, tc.want)
			}
		})
	}
}
