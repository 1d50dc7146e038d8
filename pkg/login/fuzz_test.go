package login_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/authbridge/authbridge/pkg/login"
)

// FuzzParseCompact checks the JWS shape rules that every ID token, logout token and bearer token passes
// before any signature work: a refusal wraps one of the named errors and never quotes the token; an
// accepted token is three canonical base64url parts whose header names an allowed alg and typ and no
// key-fetching member, and whose payload is the JSON object returned.
func FuzzParseCompact(f *testing.F) {
	enc := base64.RawURLEncoding.EncodeToString
	for _, s := range []string{
		enc([]byte(`{"alg":"RS256","kid":"k1"}`)) + "." + enc([]byte(`{"sub":"a"}`)) + ".c2ln",
		enc([]byte(`{"alg":"RS256","typ":"logout+jwt"}`)) + "." + enc([]byte(`{"sid":"s","events":{}}`)) + ".c2ln",
		enc([]byte(`{"alg":"none"}`)) + "." + enc([]byte(`{}`)) + ".",
		enc([]byte(`{"alg":"RS256","alg":"HS256"}`)) + "." + enc([]byte(`{}`)) + ".c2ln",
		enc([]byte(`{"alg":"RS256","jku":"https://evil.test/keys"}`)) + "." + enc([]byte(`{}`)) + ".c2ln",
		enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(`{"a":{"b":1,"b":2}}`)) + ".c2ln",
		enc([]byte(`{"alg":"RS256"}`)) + "=." + enc([]byte(`{}`)) + ".c2ln",
		`{"protected":"x","payload":"y","signature":"z"}`, "a.b.c.d.e", "..", "",
	} {
		f.Add(s)
	}
	algs := []jose.SignatureAlgorithm{jose.RS256, jose.ES256}
	types := []string{"", "jwt", "logout+jwt"}
	f.Fuzz(func(t *testing.T, raw string) {
		hdr, payload, err := login.ParseCompact(raw, algs, types)
		if err != nil {
			if !errors.Is(err, login.ErrTooLarge) && !errors.Is(err, login.ErrJWSShape) && !errors.Is(err, login.ErrJWSAlg) && !errors.Is(err, login.ErrJWSType) {
				t.Fatalf("refusal %v wraps no named error", err)
			}
			if len(raw) > 8 && strings.Contains(err.Error(), raw) {
				t.Fatalf("error quotes the token: %v", err)
			}
			return
		}
		parts := strings.Split(raw, ".")
		if len(parts) != 3 {
			t.Fatalf("accepted %d parts", len(parts))
		}
		for _, p := range parts {
			b, err := base64.RawURLEncoding.Strict().DecodeString(p)
			if err != nil || p == "" || enc(b) != p {
				t.Fatalf("accepted a part that is not canonical base64url: %q", p)
			}
		}
		h, _ := base64.RawURLEncoding.DecodeString(parts[0])
		var members map[string]json.RawMessage
		if json.Unmarshal(h, &members) != nil {
			t.Fatalf("accepted a header that is not an object: %s", h)
		}
		for _, m := range []string{"jku", "jwk", "x5u", "crit"} {
			if _, ok := members[m]; ok {
				t.Fatalf("accepted a header with %s", m)
			}
		}
		if hdr.Alg != "RS256" && hdr.Alg != "ES256" {
			t.Fatalf("accepted alg %q", hdr.Alg)
		}
		var claims map[string]json.RawMessage
		if json.Unmarshal(payload, &claims) != nil || claims == nil {
			t.Fatalf("accepted a payload that is not an object: %s", payload)
		}
		if p, _ := base64.RawURLEncoding.DecodeString(parts[1]); string(p) != string(payload) {
			t.Fatal("the payload returned is not the token's")
		}
	})
}

// FuzzCheckSubject checks the sub rule: an accepted subject is non-empty and holds no control
// character (it is logged and sent upstream in a header).
func FuzzCheckSubject(f *testing.F) {
	for _, s := range []string{"auth0|alice", "", "a\r\nX-Admin: 1", "a\x00", "ü", strings.Repeat("a", 300), " a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sub string) {
		if login.CheckSubject(sub) != nil {
			return
		}
		if sub == "" {
			t.Fatal("empty subject accepted")
		}
		for _, c := range []byte(sub) {
			if c < 0x20 || c == 0x7f {
				t.Fatalf("subject %q with a control character accepted", sub)
			}
		}
	})
}
