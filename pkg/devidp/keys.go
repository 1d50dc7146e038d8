package devidp

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// errBadToken is returned by verify for any token this provider did not issue or that expired.
var errBadToken = errors.New("devidp: invalid token")

// keySet holds the signing key and the signers built from it; immutable after newKeySet.
type keySet struct {
	private  *rsa.PrivateKey
	public   jose.JSONWebKey
	idSigner jose.Signer // typ JWT
	atSigner jose.Signer // typ at+jwt (RFC 9068)
}

// newKeySet generates an RSA-2048 key whose kid is its RFC 7638 thumbprint.
func newKeySet() (*keySet, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate rsa key: %w", err)
	}
	pub := jose.JSONWebKey{Key: &key.PublicKey, Algorithm: string(jose.RS256), Use: "sig"}
	thumb, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("compute key thumbprint: %w", err)
	}
	pub.KeyID = base64.RawURLEncoding.EncodeToString(thumb)
	ks := &keySet{private: key, public: pub}
	if ks.idSigner, err = ks.signer("JWT"); err != nil {
		return nil, fmt.Errorf("create signer: %w", err)
	}
	if ks.atSigner, err = ks.signer("at+jwt"); err != nil {
		return nil, fmt.Errorf("create signer: %w", err)
	}
	return ks, nil
}

// signer signs with the key and its kid, RS256, with typ in the header (none when typ is "").
func (ks *keySet) signer(typ jose.ContentType) (jose.Signer, error) {
	opts := &jose.SignerOptions{}
	if typ != "" {
		opts = opts.WithType(typ)
	}
	return jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: ks.private, KeyID: ks.public.KeyID}}, opts)
}

// sign serializes claims as a compact JWS.
func sign(s jose.Signer, claims map[string]any) (string, error) {
	tok, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return tok, nil
}

// verify checks that raw was signed by this provider's key and names this issuer, and decodes its
// claims. Expiry is checked only when checkExp is set (an id_token_hint may have expired).
func (p *IDP) verify(raw string, checkExp bool) (map[string]any, error) {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return nil, fmt.Errorf("parse token: %w", errBadToken)
	}
	var std jwt.Claims
	claims := map[string]any{}
	kid := ""
	if len(tok.Headers) > 0 {
		kid = tok.Headers[0].KeyID
	}
	if err := tok.Claims(p.publicKey(kid), &std, &claims); err != nil {
		return nil, fmt.Errorf("check signature: %w", errBadToken)
	}
	exp := jwt.Expected{Issuer: p.o.Issuer}
	if checkExp {
		exp.Time = p.now()
	} else {
		exp.Time = std.IssuedAt.Time() // still rejects a wrong issuer
	}
	if err := std.ValidateWithLeeway(exp, 0); err != nil {
		return nil, fmt.Errorf("validate claims: %w", errBadToken)
	}
	return claims, nil
}

// login identifies who authenticated and when; it is copied into codes and refresh tokens.
type loginInfo struct {
	subject  string
	sid      string
	authTime time.Time
}

// grant is what an authorization covers: the client, scope, audience and, for codes, the nonce.
type grant struct {
	clientID string
	scope    string
	audience string
	nonce    string
	login    loginInfo
}

// hasScope reports whether the space-separated scope list contains s.
func hasScope(scope, s string) bool { return slices.Contains(strings.Fields(scope), s) }

// tokenResponse is the token endpoint's success body.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	IDToken      string `json:"id_token,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope"`
}

// mintTokens signs an access token and, when the scope has openid, an ID token for g.
func (p *IDP) mintTokens(g grant) (*tokenResponse, error) {
	usr, ok := p.userBySubject(g.login.subject)
	if !ok {
		return nil, fmt.Errorf("find user: %w", errBadToken)
	}
	now := p.now()
	aud := []string{p.o.Issuer + "userinfo"}
	if g.audience != "" {
		aud = []string{g.audience, p.o.Issuer + "userinfo"}
	}
	at := map[string]any{
		"iss": p.o.Issuer, "sub": usr.Subject, "aud": aud, "azp": g.clientID,
		"iat": now.Unix(), "exp": now.Add(p.o.AccessTokenTTL).Unix(),
		"scope": g.scope, "jti": randomID(), p.o.GroupsClaim: groups(usr),
	}
	addClaims(at, usr.Claims)
	res := &tokenResponse{TokenType: "Bearer", ExpiresIn: int64(p.o.AccessTokenTTL / time.Second), Scope: g.scope}
	var err error
	if res.AccessToken, err = sign(p.keys.Load().atSigner, at); err != nil {
		return nil, err
	}
	if !hasScope(g.scope, "openid") {
		return res, nil
	}
	id := p.profileClaims(usr, g.scope)
	std := map[string]any{
		"iss": p.o.Issuer, "sub": usr.Subject, "aud": g.clientID, "azp": g.clientID,
		"iat": now.Unix(), "exp": now.Add(p.o.IDTokenTTL).Unix(),
		"auth_time": g.login.authTime.Unix(), "sid": g.login.sid,
	}
	for k, v := range std {
		id[k] = v
	}
	if g.nonce != "" {
		id["nonce"] = g.nonce
	}
	addClaims(id, usr.Claims)
	if res.IDToken, err = sign(p.keys.Load().idSigner, id); err != nil {
		return nil, err
	}
	return res, nil
}

// profileClaims returns the user claims the scope allows, plus the groups claim (an Auth0 Action
// would add it regardless of scope).
func (p *IDP) profileClaims(usr User, scope string) map[string]any {
	c := map[string]any{"sub": usr.Subject, p.o.GroupsClaim: groups(usr)}
	if hasScope(scope, "email") && usr.Email != "" {
		c["email"], c["email_verified"] = usr.Email, p.emailVerified(usr)
	}
	if hasScope(scope, "profile") && usr.Name != "" {
		c["name"] = usr.Name
	}
	return c
}

// addClaims adds extra to claims, leaving every claim that is already there alone.
func addClaims(claims, extra map[string]any) {
	for k, v := range extra {
		if _, ok := claims[k]; !ok {
			claims[k] = v
		}
	}
}

// groups returns the user's groups, never nil, so the claim is always a JSON array.
func groups(usr User) []string {
	if usr.Groups == nil {
		return []string{}
	}
	return usr.Groups
}

// userBySubject finds the user with the given sub claim.
func (p *IDP) userBySubject(sub string) (User, bool) {
	for _, usr := range p.users {
		if usr.Subject == sub {
			return usr, true
		}
	}
	return User{}, false
}

// discovery serves the OpenID Provider metadata.
func (p *IDP) discovery(w http.ResponseWriter, _ *http.Request) {
	iss := p.o.Issuer
	doc := map[string]any{
		"issuer":                                iss,
		"authorization_endpoint":                iss + "authorize",
		"token_endpoint":                        iss + "oauth/token",
		"userinfo_endpoint":                     iss + "userinfo",
		"jwks_uri":                              iss + ".well-known/jwks.json",
		"end_session_endpoint":                  iss + "oidc/logout",
		"revocation_endpoint":                   iss + "oauth/revoke",
		"response_types_supported":              []string{"code"},
		"response_modes_supported":              []string{"query"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"claims_supported": []string{"aud", "auth_time", "azp", "email", "email_verified", "exp", "iat",
			"iss", "name", "nonce", "sid", "sub", p.o.GroupsClaim},
	}
	if p.o.IssParameter {
		doc["authorization_response_iss_parameter_supported"] = true
	}
	writeJSON(w, http.StatusOK, doc)
}

// jwks serves the public signing key.
func (p *IDP) jwks(w http.ResponseWriter, _ *http.Request) {
	p.mu.Lock()
	p.st.stats.KeyFetches++
	down := p.st.keysDown
	p.mu.Unlock()
	if down {
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: p.publicKeys()})
}

// publicKeys is the JWKS: the signing key, then the keys it replaced.
func (p *IDP) publicKeys() []jose.JSONWebKey {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]jose.JSONWebKey{p.keys.Load().public}, p.st.retired...)
}

// publicKey is the published key with kid, or the signing key's when none has it (the check then fails).
func (p *IDP) publicKey(kid string) any {
	keys := p.publicKeys()
	for _, k := range keys {
		if k.KeyID == kid {
			return k.Key
		}
	}
	return keys[0].Key
}

// userinfo answers the bearer access token's owner's claims, filtered by the token's scope.
func (p *IDP) userinfo(w http.ResponseWriter, r *http.Request) {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	claims, err := p.verify(strings.TrimSpace(raw), true)
	if !ok || err != nil || !audContains(claims["aud"], p.o.Issuer+"userinfo") {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, oauthError{"invalid_token", "Invalid or expired access token."})
		return
	}
	sub, _ := claims["sub"].(string)
	usr, found := p.userBySubject(sub)
	if !found {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, oauthError{"invalid_token", "Unknown user."})
		return
	}
	scope, _ := claims["scope"].(string)
	writeJSON(w, http.StatusOK, p.profileClaims(usr, scope))
}

// audContains reports whether an aud claim (string or array) contains want.
func audContains(aud any, want string) bool {
	switch a := aud.(type) {
	case string:
		return a == want
	case []any:
		for _, v := range a {
			if v == want {
				return true
			}
		}
	}
	return false
}

// oauthError is the JSON error body of the token, revoke and userinfo endpoints.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// writeJSON writes v with the no-store headers token responses need.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away; nothing to do
}

// randomID returns an unguessable URL-safe string of about 260 random bits.
func randomID() string {
	return rand.Text() + rand.Text() // 2×26 base32 chars ≈ 260 bits
}
