package login

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
)

// Values returns the values of the named claims of the verified ID token: a string claim is one value,
// a list of strings its elements, and a claim that is absent or of any other type (number, boolean,
// object, a list holding anything but strings) has none. Every name is a key of the result, so that a
// caller can tell a claim the token lacks from one it never asked for. It returns nil for no names.
func (c *Claims) Values(names []string) map[string][]string {
	if len(names) == 0 {
		return nil
	}
	out := make(map[string][]string, len(names))
	for _, n := range names {
		out[n] = ClaimStrings(c.raw[n])
	}
	return out
}

// ReadClaims builds Claims from an ID token's payload (its JSON claims) the way a verified login does:
// groups from groupsClaim, the e-mail address only when email_verified is JSON true (or
// allowUnverifiedEmail) and it is well-formed. It verifies nothing: it is for tools that explain what a
// given token would be allowed (authbridge explain), never for requests.
func ReadClaims(payload []byte, groupsClaim string, allowUnverifiedEmail bool) (*Claims, error) {
	var c map[string]json.RawMessage
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, fmt.Errorf("read claims: %w", err)
	}
	if groupsClaim == "" {
		groupsClaim = "groups"
	}
	p := &Provider{cfg: Config{GroupsClaim: groupsClaim, AllowUnverifiedEmail: allowUnverifiedEmail}, log: slog.New(slog.DiscardHandler)}
	claims := &Claims{Email: p.email(c), Groups: ClaimStrings(c[groupsClaim]), raw: c}
	_ = json.Unmarshal(c["sub"], &claims.Subject)
	_ = json.Unmarshal(c["sid"], &claims.SID)
	return claims, nil
}

// ClaimStrings reads one claim's values the way every policy check does, for ID tokens and access
// tokens alike (pkg/bearer uses it too): a JSON string is one value, an array of strings its elements
// (an empty array none, but not nil). Empty strings are no values. Anything else has no values at all:
// absent, null, a number, a boolean, an object, and an array holding anything but strings (a list
// mixing strings with other types is refused whole, never read in part).
func ClaimStrings(raw json.RawMessage) []string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil
	}
	switch raw[0] {
	case '"':
		var one string
		if json.Unmarshal(raw, &one) != nil || one == "" {
			return nil
		}
		return []string{one}
	case '[':
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) != nil {
			return nil
		}
		out := make([]string, 0, len(list))
		for _, el := range list {
			var s string
			if len(el) == 0 || el[0] != '"' || json.Unmarshal(el, &s) != nil {
				return nil
			}
			if s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
