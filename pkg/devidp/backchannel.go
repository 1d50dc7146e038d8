package devidp

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// backchannelEvent marks a logout token (OIDC Back-Channel Logout 1.0, 2.4).
const backchannelEvent = "http://schemas.openid.net/event/backchannel-logout"

// LogoutToken mints a back-channel logout token for clientID naming subject and/or sid, signed with
// the provider's key, as the provider itself sends them. Tests use it to play the provider's part.
func (p *IDP) LogoutToken(clientID, subject, sid string) (string, error) {
	now := p.now()
	claims := map[string]any{
		"iss": p.o.Issuer, "aud": clientID, "iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
		"jti": randomID(), "events": map[string]any{backchannelEvent: map[string]any{}},
	}
	if subject != "" {
		claims["sub"] = subject
	}
	if sid != "" {
		claims["sid"] = sid
	}
	return sign(p.keys.Load().idSigner, claims)
}

// Sign signs claims exactly as the provider signs its ID and logout tokens (its key and kid, RS256,
// typ JWT). Tests use it to play a provider that sends tokens with unusual claims.
func (p *IDP) Sign(claims map[string]any) (string, error) {
	return sign(p.keys.Load().idSigner, claims)
}

// sendBackchannel posts a logout token for one ended login to every client with a back-channel URI.
// It runs synchronously, with a short timeout, so a test sees the effect once logout has answered.
func (p *IDP) sendBackchannel(li loginInfo) {
	client := &http.Client{Timeout: 5 * time.Second}
	for _, c := range p.clients {
		if c.BackchannelLogoutURI == "" {
			continue
		}
		tok, err := p.LogoutToken(c.ID, li.subject, li.sid)
		if err != nil {
			p.o.Logger.Error("mint logout token", "err", err)
			continue
		}
		resp, err := client.Post(c.BackchannelLogoutURI, "application/x-www-form-urlencoded",
			strings.NewReader(url.Values{"logout_token": {tok}}.Encode()))
		if err != nil {
			p.o.Logger.Warn("back-channel logout failed", "client_id", c.ID, "err", err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			p.o.Logger.Warn("back-channel logout refused", "client_id", c.ID, "status", fmt.Sprint(resp.StatusCode))
		}
	}
}
