package bearer

import (
	"errors"
	"fmt"
)

// ErrInvalidToken is wrapped by every refusal of a token: the token is not acceptable and retrying it
// will not help. The engine answers 401 with
// `WWW-Authenticate: Bearer error="invalid_token", error_description="<Description(err)>"` (RFC 6750
// 3.1), never a login redirect. Each refusal also wraps exactly one of the reasons below.
var ErrInvalidToken = errors.New("bearer: invalid token")

// ErrUnavailable means the token could not be verified now: its issuer's discovery document or keys
// could not be fetched (down, timing out, answering garbage or too much), or the caller's context ended.
// The token was neither accepted nor refused. The engine answers 503 and fails closed, without a
// challenge, as for any other unreachable dependency.
var ErrUnavailable = errors.New("bearer: issuer unavailable")

// ErrInvalidOptions is returned by New when Options cannot describe a working Verifier.
var ErrInvalidOptions = errors.New("bearer: invalid options")

// Reasons for a refusal, each wrapped together with ErrInvalidToken, for logs, tests and
// error_description. Their texts name no claim value and never the token.
var (
	// ErrTooLarge: the token is longer than MaxTokenBytes.
	ErrTooLarge = errors.New("bearer: token too large")
	// ErrMalformed: not a compact JWS in canonical base64url with JSON object header and claims (an
	// opaque token, a JWE, the JSON serialization, a member named twice, a jku/jwk/x5u/crit header).
	ErrMalformed = errors.New("bearer: not a compact JWS")
	// ErrAlgorithm: alg is not an accepted asymmetric algorithm (none, HS256, ...).
	ErrAlgorithm = errors.New("bearer: algorithm not accepted")
	// ErrType: typ is present and neither JWT nor at+jwt (RFC 9068).
	ErrType = errors.New("bearer: token type not accepted")
	// ErrIssuer: iss is missing, not a string, or not exactly one of the configured issuers.
	ErrIssuer = errors.New("bearer: issuer not accepted")
	// ErrSignature: no key of the token's issuer with its kid and alg verifies the signature.
	ErrSignature = errors.New("bearer: signature does not verify")
	// ErrNoExpiry: exp is missing or not a NumericDate.
	ErrNoExpiry = errors.New("bearer: no expiry")
	// ErrExpired: exp is more than Skew in the past.
	ErrExpired = errors.New("bearer: token expired")
	// ErrNotYetValid: nbf is more than Skew in the future, or not a NumericDate.
	ErrNotYetValid = errors.New("bearer: token not yet valid")
	// ErrIssuedAt: iat is more than Skew in the future, or not a NumericDate.
	ErrIssuedAt = errors.New("bearer: token issued in the future")
	// ErrAudience: aud is missing, malformed, or names none of the configured audiences.
	ErrAudience = errors.New("bearer: audience not accepted")
	// ErrSubject: sub is missing, empty, longer than 255 characters or not printable ASCII.
	ErrSubject = errors.New("bearer: no valid subject")
)

// descriptions are the error_description texts: fixed, so nothing from the token reaches a header, and
// within RFC 6750's character set (no quote, no backslash).
var descriptions = []struct {
	reason error
	text   string
}{
	{ErrTooLarge, "The token is too large"},
	{ErrMalformed, "The token is not a signed JWT"},
	{ErrAlgorithm, "The token's signing algorithm is not accepted"},
	{ErrType, "The token's type is not accepted"},
	{ErrIssuer, "The token's issuer is not accepted"},
	{ErrSignature, "The token's signature does not verify"},
	{ErrNoExpiry, "The token has no expiry"},
	{ErrExpired, "The token has expired"},
	{ErrNotYetValid, "The token is not valid yet"},
	{ErrIssuedAt, "The token is issued in the future"},
	{ErrAudience, "The token is not meant for this service"},
	{ErrSubject, "The token names no valid subject"},
}

// Description returns the RFC 6750 error_description for an error of Verify: a fixed sentence per
// reason, "The token is invalid" for another refusal, and "" for an error that is not a refusal
// (ErrUnavailable), which gets no challenge.
func Description(err error) string {
	if !errors.Is(err, ErrInvalidToken) {
		return ""
	}
	for _, d := range descriptions {
		if errors.Is(err, d.reason) {
			return d.text
		}
	}
	return "The token is invalid"
}

// refuse builds a refusal: ErrInvalidToken, the reason, and a detail for logs that must not quote the
// token.
func refuse(reason error, format string, args ...any) error {
	return fmt.Errorf("%w: %w: "+format, append([]any{ErrInvalidToken, reason}, args...)...)
}
