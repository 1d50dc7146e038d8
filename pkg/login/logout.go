package login

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ErrInvalidLogoutToken means a back-channel logout token failed validation.
var ErrInvalidLogoutToken = errors.New("login: invalid logout token")

// backchannelEvent is the member of a logout token's events claim that marks it as one (OIDC
// Back-Channel Logout 1.0, section 2.4).
const backchannelEvent = "http://schemas.openid.net/event/backchannel-logout"

// Logout token age limits: a token whose iat is further ahead than IssuedAtSkew, or longer ago than
// LogoutTokenMaxAge, is refused.
const (
	// LogoutTokenMaxAge is how old (by iat) a logout token may be.
	LogoutTokenMaxAge = 10 * time.Minute
	// LogoutReplayWindow is how long a logout token's jti must be remembered to refuse its replay: a
	// token is accepted until its iat is LogoutTokenMaxAge old, and its iat may be up to IssuedAtSkew
	// ahead of the moment it is first seen, so it can stay acceptable for MaxAge+Skew after that. One
	// more second covers a store that forgets a key at the very instant its TTL ends.
	LogoutReplayWindow = LogoutTokenMaxAge + IssuedAtSkew + time.Second
)

// LogoutClaims is what a valid logout token asks to end.
type LogoutClaims struct {
	Subject string // sub; may be empty when SID is set
	SID     string // sid; may be empty when Subject is set
	JTI     string // unique id, for the replay cache
}

// VerifyLogoutToken validates a back-channel logout token (OIDC Back-Channel Logout 1.0, 2.6): the
// JWS rules of precheck (compact, size, alg, typ), the signature against the provider's keys, iss, aud
// (this client), exp when present (the spec made it required only in its 2023 errata, and Ory Hydra
// sends none), iat within limits, a jti, the back-channel member of the events claim, sub and/or sid,
// and no nonce (so an ID token can never pass as one). Replay of the jti is for the caller to refuse,
// for LogoutReplayWindow. An error that does not wrap ErrInvalidLogoutToken means the provider's keys
// could not be fetched: the token was neither accepted nor refused.
func (p *Provider) VerifyLogoutToken(ctx context.Context, raw string) (*LogoutClaims, error) {
	if err := p.precheck(ctx, raw, logoutTokenTypes); err != nil {
		if errors.Is(err, ErrKeysUnreachable) {
			return nil, fmt.Errorf("verify logout token: %w", err)
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalidLogoutToken, err)
	}
	idt, err := p.logoutVer.Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidLogoutToken, err)
	}
	var c struct {
		Sub    *string                    `json:"sub"`
		SID    string                     `json:"sid"`
		JTI    string                     `json:"jti"`
		Nonce  *string                    `json:"nonce"`
		Events map[string]json.RawMessage `json:"events"`
	}
	if err := idt.Claims(&c); err != nil {
		return nil, fmt.Errorf("%w: decode claims: %w", ErrInvalidLogoutToken, err)
	}
	now := p.cfg.Now()
	switch {
	case c.Nonce != nil:
		return nil, fmt.Errorf("%w: carries a nonce", ErrInvalidLogoutToken)
	case c.JTI == "":
		return nil, fmt.Errorf("%w: no jti", ErrInvalidLogoutToken)
	case idt.Subject == "" && c.SID == "":
		return nil, fmt.Errorf("%w: neither sub nor sid", ErrInvalidLogoutToken)
	case !idt.Expiry.IsZero() && idt.Expiry.Before(now):
		return nil, fmt.Errorf("%w: expired", ErrInvalidLogoutToken)
	}
	if err := checkIssuedAt(idt.IssuedAt, now); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidLogoutToken, err)
	}
	if idt.IssuedAt.Before(now.Add(-LogoutTokenMaxAge)) {
		return nil, fmt.Errorf("%w: iat older than %s", ErrInvalidLogoutToken, LogoutTokenMaxAge)
	}
	if c.Sub != nil {
		if err := CheckSubject(*c.Sub); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidLogoutToken, err)
		}
	}
	ev, ok := c.Events[backchannelEvent]
	var obj map[string]json.RawMessage
	if !ok || json.Unmarshal(ev, &obj) != nil {
		return nil, fmt.Errorf("%w: no back-channel logout event", ErrInvalidLogoutToken)
	}
	return &LogoutClaims{Subject: idt.Subject, SID: c.SID, JTI: c.JTI}, nil
}
