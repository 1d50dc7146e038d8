package login

import (
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
		out[n] = stringList(c.raw[n])
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
	claims := &Claims{Email: p.email(c), Groups: stringList(c[groupsClaim]), raw: c}
	_ = json.Unmarshal(c["sub"], &claims.Subject)
	_ = json.Unmarshal(c["sid"], &claims.SID)
	return claims, nil
}
