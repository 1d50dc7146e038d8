package devidp

import (
	"fmt"

	"github.com/go-jose/go-jose/v4"
)

// AccessToken mints the access token that the token endpoint would issue to clientID for username
// with scope and Options.Audience (aud [Audience, Issuer+"userinfo"], typ at+jwt, the groups claim),
// without a login. Tests use it to play an API client that already holds a token.
func (p *IDP) AccessToken(clientID, username, scope string) (string, error) {
	usr, ok := p.users[username]
	if !ok {
		return "", fmt.Errorf("%w: no user %q", ErrInvalidOptions, username)
	}
	if _, ok := p.clients[clientID]; !ok {
		return "", fmt.Errorf("%w: no client %q", ErrInvalidOptions, clientID)
	}
	res, err := p.mintTokens(grant{
		clientID: clientID, scope: scope, audience: p.o.Audience,
		login: loginInfo{subject: usr.Subject, sid: randomID(), authTime: p.now()},
	})
	if err != nil {
		return "", err
	}
	return res.AccessToken, nil
}

// SignTyped signs claims with the provider's key and kid (RS256) and typ in the JWS header, or no typ
// when typ is "". Tests use it for tokens that only a broken or hostile signer would issue.
func (p *IDP) SignTyped(typ string, claims map[string]any) (string, error) {
	s, err := p.keys.Load().signer(jose.ContentType(typ))
	if err != nil {
		return "", fmt.Errorf("create signer: %w", err)
	}
	return sign(s, claims)
}

// KeyID returns the kid of the provider's signing key.
func (p *IDP) KeyID() string { return p.keys.Load().public.KeyID }
