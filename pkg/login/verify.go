package login

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// verify checks an ID token and returns its claims. nonce "" skips the nonce check (refresh responses
// carry none); accessToken is the one that came with it, for at_hash. precheck and idTokenRules add
// what go-oidc (signature, iss, aud, exp) leaves out; nonce and azp are checked here.
func (p *Provider) verify(ctx context.Context, raw, nonce, accessToken string) (*Claims, error) {
	ctx = fromTokenEndpoint(ctx) // only Exchange and Refresh call verify
	if err := p.precheck(ctx, raw, idTokenTypes); err != nil {
		if errors.Is(err, ErrKeysUnreachable) {
			return nil, fmt.Errorf("verify id token: %w", err)
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	idt, err := p.verifier.Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if nonce != "" && subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return nil, fmt.Errorf("%w: nonce does not match this login", ErrInvalidToken)
	}
	if err := p.idTokenRules(idt, accessToken); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	var c map[string]json.RawMessage
	if err := idt.Claims(&c); err != nil {
		return nil, fmt.Errorf("%w: decode claims: %w", ErrInvalidToken, err)
	}
	var azp string
	_ = json.Unmarshal(c["azp"], &azp)
	// OIDC Core 3.1.3.7: with several audiences azp must be present; when present it must be us.
	if (len(idt.Audience) > 1 || azp != "") && azp != p.cfg.ClientID {
		return nil, fmt.Errorf("%w: azp is not this client", ErrInvalidToken)
	}
	claims := &Claims{Subject: idt.Subject, Email: p.email(c), raw: c}
	_ = json.Unmarshal(c["sid"], &claims.SID)
	claims.Groups = ClaimStrings(c[p.cfg.GroupsClaim])
	return claims, nil
}

// email returns the token's address if it may stand for the user: email_verified is JSON true (or
// Config.AllowUnverifiedEmail is set) and the address is well-formed. Anything else is no address: an
// unverified one could have been typed by anyone at sign-up, and a malformed one could be read as
// another domain than the one it was verified at. The address itself is never logged.
func (p *Provider) email(c map[string]json.RawMessage) string {
	var addr string
	if json.Unmarshal(c["email"], &addr) != nil || addr == "" {
		return ""
	}
	var verified bool // a string "true" does not unmarshal into a bool: only JSON true verifies
	if json.Unmarshal(c["email_verified"], &verified) != nil || !verified {
		if !p.cfg.AllowUnverifiedEmail {
			p.log.Debug("id token email is not verified, not used")
			return ""
		}
	}
	if _, _, ok := ParseEmail(addr); !ok {
		p.log.Warn("id token email is malformed, not used")
		return ""
	}
	return addr
}

// jwtExpiry reads exp from a JWT access token without verifying it: it only schedules a refresh, and
// the upstream verifies the token itself. Opaque tokens give the zero time.
func jwtExpiry(tok string) time.Time {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}
	}
	var c struct {
		Exp json.Number `json:"exp"`
	}
	if json.Unmarshal(payload, &c) != nil {
		return time.Time{}
	}
	sec, err := c.Exp.Int64()
	if err != nil || sec <= 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0)
}

// LogoutURL returns where the browser goes to end its session at the provider and come back to
// returnTo (already validated by the caller), or "" when the provider has no logout to visit.
func (p *Provider) LogoutURL(idToken, returnTo string) string {
	switch p.logout {
	case LogoutOIDC:
		if p.endSession == "" {
			return ""
		}
		q := url.Values{"client_id": {p.cfg.ClientID}}
		if idToken != "" {
			q.Set("id_token_hint", idToken)
		}
		if returnTo != "" {
			q.Set("post_logout_redirect_uri", returnTo)
		}
		return addQuery(p.endSession, q)
	case LogoutAuth0:
		q := url.Values{"client_id": {p.cfg.ClientID}}
		if returnTo != "" {
			q.Set("returnTo", returnTo)
		}
		return addQuery(strings.TrimSuffix(p.cfg.IssuerURL, "/")+"/v2/logout", q)
	}
	return ""
}

func addQuery(base string, q url.Values) string {
	if strings.Contains(base, "?") {
		return base + "&" + q.Encode()
	}
	return base + "?" + q.Encode()
}

// Ping reports whether the provider answers its discovery document.
func (p *Provider) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	discovery := strings.TrimSuffix(p.cfg.IssuerURL, "/") + "/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, discovery, nil)
	if err != nil {
		return err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("ping provider: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("ping provider: status %d", resp.StatusCode)
	}
	return nil
}

// EmailsVerified reports whether every address in Claims.Email is one the provider verified: true unless
// Config.AllowUnverifiedEmail lets unverified ones through, which are then indistinguishable.
func (p *Provider) EmailsVerified() bool { return !p.cfg.AllowUnverifiedEmail }
