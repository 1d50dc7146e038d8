package login

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// IssuedAtSkew is how far ahead of our clock a token's iat may be: the provider's clock may run a
// little fast, and no more than that.
const IssuedAtSkew = time.Minute

// maxSubject is the longest sub OIDC Core 2 allows: 255 ASCII characters.
const maxSubject = 255

// idTokenRules checks what OIDC Core 3.1.3.7 asks of an ID token beyond go-oidc's checks: a sub, an
// iat that is neither missing nor in the future beyond IssuedAtSkew, and at_hash, when present, over
// the access token that came with it.
func (p *Provider) idTokenRules(idt *oidc.IDToken, accessToken string) error {
	if err := CheckSubject(idt.Subject); err != nil {
		return err
	}
	if err := checkIssuedAt(idt.IssuedAt, p.cfg.Now()); err != nil {
		return err
	}
	if idt.AccessTokenHash != "" && idt.VerifyAccessToken(accessToken) != nil {
		return errors.New("at_hash does not match the access token")
	}
	return nil
}

// CheckSubject refuses a missing or empty sub, and one that could not be a header value upstream
// (X-Auth-Request-User): longer than 255 characters, or anything but printable ASCII.
func CheckSubject(sub string) error {
	switch {
	case sub == "":
		return errors.New("no sub")
	case len(sub) > maxSubject:
		return fmt.Errorf("sub longer than %d characters", maxSubject)
	case strings.IndexFunc(sub, func(r rune) bool { return r < 0x20 || r > 0x7e }) >= 0:
		return errors.New("sub holds characters other than printable ASCII")
	}
	return nil
}

// checkIssuedAt refuses a missing (or zero) iat and one further ahead of now than IssuedAtSkew.
func checkIssuedAt(iat, now time.Time) error {
	switch {
	case iat.IsZero() || iat.Unix() <= 0:
		return errors.New("no iat")
	case iat.After(now.Add(IssuedAtSkew)):
		return fmt.Errorf("iat is more than %s in the future", IssuedAtSkew)
	}
	return nil
}
