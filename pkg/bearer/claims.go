package bearer

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"time"

	"github.com/authbridge/authbridge/pkg/login"
)

// maxNumericDate is 9999-12-31T23:59:59Z: a later (or non-positive) date is not a NumericDate we read.
const maxNumericDate = 253402300799

// Claims is what a verified token says about its holder. It is shared between cache hits: read-only.
type Claims struct {
	Subject string    // sub: non-empty printable ASCII, at most 255 characters
	Issuer  string    // iss: one of Options.Issuers, exactly
	Expiry  time.Time // exp
	// Email is the token's email when email_verified is JSON true (or Options.AllowUnverifiedEmail is
	// set) and it parses strictly as one address (login.ParseEmail); empty otherwise.
	Email string
	// Groups are the strings of the Options.GroupsClaim claim (see Values).
	Groups []string
	// Raw holds every claim as the token carries it, names exactly as spelled (no case folding).
	Raw map[string]json.RawMessage
}

// Values returns the values of the named claims, exactly as login.Claims.Values does for an ID token
// (one shared reading, login.ClaimStrings): a string claim is one value, an array of strings its
// elements, and anything else (absent, a number, an object, an array mixing strings with other types)
// none. Names are matched exactly, so namespaced claims (https://example.com/roles) and Auth0's
// permissions work. Every name is a key of the result; nil for no names.
func (c *Claims) Values(names []string) map[string][]string {
	if len(names) == 0 {
		return nil
	}
	out := make(map[string][]string, len(names))
	for _, n := range names {
		out[n] = login.ClaimStrings(c.Raw[n])
	}
	return out
}

// parseClaims decodes the payload, which ParseCompact has checked is one JSON object.
func parseClaims(payload []byte) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(payload, &m); err != nil || m == nil {
		return nil, refuse(ErrMalformed, "claims are not a JSON object")
	}
	return m, nil
}

// check applies the claim rules to a verified token and builds its Claims.
func (v *Verifier) check(m map[string]json.RawMessage, iss string, now time.Time) (*Claims, error) {
	exp, present, ok := numericDate(m, "exp")
	switch {
	case !present || !ok:
		return nil, refuse(ErrNoExpiry, "exp is missing or not a NumericDate")
	case !now.Before(exp.Add(Skew)):
		return nil, refuse(ErrExpired, "exp %s, now %s", exp.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if nbf, present, ok := numericDate(m, "nbf"); present && (!ok || nbf.After(now.Add(Skew))) {
		return nil, refuse(ErrNotYetValid, "nbf is not a NumericDate or more than %s ahead", Skew)
	}
	if iat, present, ok := numericDate(m, "iat"); present && (!ok || iat.After(now.Add(Skew))) {
		return nil, refuse(ErrIssuedAt, "iat is not a NumericDate or more than %s ahead", Skew)
	}
	aud, ok := audience(m["aud"])
	if !ok {
		return nil, refuse(ErrAudience, "aud is missing or neither a string nor an array of strings")
	}
	if !slices.ContainsFunc(aud, func(a string) bool { return slices.Contains(v.audiences, a) }) {
		return nil, refuse(ErrAudience, "aud names none of the configured audiences")
	}
	sub, _ := stringClaim(m, "sub")
	if err := login.CheckSubject(sub); err != nil {
		return nil, refuse(ErrSubject, "%v", err)
	}
	c := &Claims{Subject: sub, Issuer: iss, Expiry: exp, Raw: m}
	c.Email = v.email(m)
	c.Groups = login.ClaimStrings(m[v.groupsClaim])
	return c, nil
}

// email returns the token's address if it may stand for the holder (see Claims.Email).
func (v *Verifier) email(m map[string]json.RawMessage) string {
	addr, _ := stringClaim(m, "email")
	if addr == "" {
		return ""
	}
	var verified bool // a string "true" does not unmarshal into a bool: only JSON true verifies
	if json.Unmarshal(m["email_verified"], &verified) != nil || !verified {
		if !v.allowEmail {
			return ""
		}
	}
	if _, _, ok := login.ParseEmail(addr); !ok {
		return ""
	}
	return addr
}

// stringClaim returns the claim name if it is a JSON string.
func stringClaim(m map[string]json.RawMessage, name string) (string, bool) {
	raw, ok := m[name]
	if !ok || len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// numericDate reads the claim name as an RFC 7519 NumericDate: a JSON number (not a string, not null)
// of seconds, positive and before the year 10000. present reports whether the claim is there at all.
func numericDate(m map[string]json.RawMessage, name string) (t time.Time, present, ok bool) {
	raw, present := m[name]
	if !present {
		return time.Time{}, false, false
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || !(raw[0] >= '0' && raw[0] <= '9') {
		return time.Time{}, true, false // a string, null, a negative number, an object...
	}
	var f float64
	if json.Unmarshal(raw, &f) != nil || f <= 0 || f > maxNumericDate {
		return time.Time{}, true, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true, true
}

// audience reads aud: a string, or an array of strings.
func audience(raw json.RawMessage) ([]string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, false
	}
	switch raw[0] {
	case '"':
		var one string
		if json.Unmarshal(raw, &one) != nil {
			return nil, false
		}
		return []string{one}, true
	case '[':
		var list []string // fails on an element that is not a string; null reads as "", which is no audience
		if json.Unmarshal(raw, &list) != nil {
			return nil, false
		}
		return list, true
	}
	return nil, false
}
