// Package login holds the conversation with the OIDC provider (Auth0 first): the authorize URL with PKCE,
// the code exchange and ID-token check, refresh, and the logout URL.
package login

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
)

// ErrInvalidGrant means the provider refused a refresh token for good (expired, revoked or reused):
// the session cannot be continued and the user must log in again.
var ErrInvalidGrant = errors.New("login: invalid grant")

// ErrInvalidToken means an ID token failed verification (serialization, size, alg, signature, iss, aud,
// azp, exp, iat, sub, nonce or at_hash), or the token response that carried it broke the rules (not
// JSON, token_type not Bearer, oversized). The provider answered, and the answer is refused: callers
// answer the browser 4xx, never a 5xx that invites a retry.
var ErrInvalidToken = errors.New("login: invalid id token")

// LogoutMode selects how the browser is sent to the provider at sign-out.
type LogoutMode string

// Logout modes: auto picks OIDC when discovery names an end_session_endpoint, else Auth0's /v2/logout
// for an auth0.com issuer, else none.
const (
	LogoutAuto  LogoutMode = "auto"
	LogoutOIDC  LogoutMode = "oidc"
	LogoutAuth0 LogoutMode = "auth0"
	LogoutNone  LogoutMode = "none"
)

// Config is what login needs to talk to one provider.
type Config struct {
	IssuerURL       string            // exactly as the provider names itself (Auth0: with trailing slash)
	ClientID        string            // the application's client id
	ClientSecret    string            // empty for a public client
	RedirectURL     string            // absolute callback URL registered at the provider
	Scopes          []string          // must include openid; offline_access asks for a refresh token
	Audience        string            // Auth0 API identifier: makes the access token a JWT for that API
	ExtraAuthParams map[string]string // added to the authorize URL as they are
	GroupsClaim     string            // ID-token claim holding the user's groups; default "groups"
	Logout          LogoutMode        // default auto
	Timeout         time.Duration     // per call to the provider; default 5s
	RootCAs         *x509.CertPool    // the only roots trusted for the provider (a private CA); nil: the system roots
	MaxConcurrent   int               // token calls in flight at once; more wait (bounded by Timeout); default 64
	Now             func() time.Time  // default time.Now
	Logger          *slog.Logger      // default discards
	Metrics         *Metrics          // records every call to the provider; may be nil

	// AllowUnverifiedEmail keeps an ID token's email even when its email_verified is not true. Off, such
	// an address is dropped (Claims.Email is empty), so that nobody can claim an address they do not own.
	AllowUnverifiedEmail bool
}

// Provider talks to one OIDC provider. It is built once at start-up and is safe for concurrent use.
type Provider struct {
	cfg        Config
	oauth      oauth2.Config
	verifier   *oidc.IDTokenVerifier
	logoutVer  *oidc.IDTokenVerifier // as verifier, but exp is optional (Hydra's logout tokens have none)
	keys       *KeySet               // shared by both verifiers: one JWKS refetch limit for the Provider
	client     *http.Client          // every body read through it is capped at MaxBodyBytes
	authOpts   []oauth2.AuthCodeOption
	endSession string // OIDC end_session_endpoint, empty if not advertised
	logout     LogoutMode
	issParam   bool          // discovery: authorization_response_iss_parameter_supported is true
	slots      chan struct{} // caps concurrent token calls so a stampede cannot overrun the provider
	log        *slog.Logger
}

// New discovers the provider at cfg.IssuerURL and returns a Provider for it. client may be nil for
// HTTPClient(cfg.Timeout, cfg.RootCAs); a client given is used as it is.
func New(ctx context.Context, cfg Config, client *http.Client) (*Provider, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = 64
	}
	if cfg.GroupsClaim == "" {
		cfg.GroupsClaim = "groups"
	}
	if client == nil {
		client = HTTPClient(cfg.Timeout, cfg.RootCAs)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	client = CapClient(cfg.Metrics.Client(client), MaxBodyBytes)
	dctx, cancel := context.WithTimeout(oidc.ClientContext(withEndpoint(ctx, endpointDiscovery), client), cfg.Timeout)
	defer cancel()
	op, err := oidc.NewProvider(dctx, cfg.IssuerURL)
	if err != nil {
		return nil, fmt.Errorf("discover provider %s: %w", cfg.IssuerURL, err)
	}
	var extra struct {
		EndSession  string   `json:"end_session_endpoint"`
		AuthMethods []string `json:"token_endpoint_auth_methods_supported"`
		JWKS        string   `json:"jwks_uri"`
		Algs        []string `json:"id_token_signing_alg_values_supported"`
		IssParam    any      `json:"authorization_response_iss_parameter_supported"`
	}
	if err := op.Claims(&extra); err != nil {
		return nil, fmt.Errorf("read discovery document: %w", err)
	}
	if extra.JWKS == "" {
		return nil, errors.New("read discovery document: no jwks_uri")
	}
	algs := signingAlgs(extra.Algs)
	if len(algs) == 0 {
		return nil, fmt.Errorf("read discovery document: the provider signs ID tokens with none of %v", acceptedAlgs)
	}
	keys := NewKeySet(KeySetOptions{URL: extra.JWKS, Client: client, Now: cfg.Now, Timeout: cfg.Timeout, Algs: algs})
	vcfg := oidc.Config{ClientID: cfg.ClientID, Now: cfg.Now, SupportedSigningAlgs: make([]string, len(algs))}
	for i, a := range algs {
		vcfg.SupportedSigningAlgs[i] = string(a)
	}
	lcfg := vcfg
	lcfg.SkipExpiryCheck = true
	p := &Provider{
		cfg:    cfg,
		client: client,
		oauth: oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			RedirectURL:  cfg.RedirectURL,
			Endpoint:     endpoint(op.Endpoint(), extra.AuthMethods),
			Scopes:       cfg.Scopes,
		},
		// NewProvider checked that discovery names exactly cfg.IssuerURL as the issuer.
		verifier:   oidc.NewVerifier(cfg.IssuerURL, keys, &vcfg),
		logoutVer:  oidc.NewVerifier(cfg.IssuerURL, keys, &lcfg),
		keys:       keys,
		endSession: extra.EndSession,
		issParam:   extra.IssParam == true,
		slots:      make(chan struct{}, cfg.MaxConcurrent),
		log:        cfg.Logger,
	}
	if cfg.Audience != "" {
		p.authOpts = append(p.authOpts, oauth2.SetAuthURLParam("audience", cfg.Audience))
	}
	for k, v := range cfg.ExtraAuthParams {
		p.authOpts = append(p.authOpts, oauth2.SetAuthURLParam(k, v))
	}
	p.logout = p.resolveLogout(cfg.Logout)
	return p, nil
}

// signingAlgs returns the algorithms the provider advertises for ID tokens that authbridge accepts,
// in the provider's order; RS256, the one OIDC requires, when it advertises none.
func signingAlgs(advertised []string) []jose.SignatureAlgorithm {
	if len(advertised) == 0 {
		advertised = []string{"RS256"}
	}
	var out []jose.SignatureAlgorithm
	for _, a := range advertised {
		if slices.Contains(acceptedAlgs, a) && !slices.Contains(out, jose.SignatureAlgorithm(a)) {
			out = append(out, jose.SignatureAlgorithm(a))
		}
	}
	return out
}

// endpoint fixes how the client authenticates at the token endpoint. Left to auto-detect, the oauth2
// package retries a failed call with the other method: a refused refresh would be presented twice,
// which a provider with reuse detection (Auth0) reads as theft and answers by revoking the family.
func endpoint(e oauth2.Endpoint, methods []string) oauth2.Endpoint {
	e.AuthStyle = oauth2.AuthStyleInHeader // client_secret_basic, the OIDC default
	if len(methods) > 0 && !slices.Contains(methods, "client_secret_basic") && slices.Contains(methods, "client_secret_post") {
		e.AuthStyle = oauth2.AuthStyleInParams
	}
	return e
}

func (p *Provider) resolveLogout(m LogoutMode) LogoutMode {
	switch m {
	case LogoutOIDC, LogoutAuth0, LogoutNone:
		return m
	}
	if p.endSession != "" {
		return LogoutOIDC
	}
	if u, err := url.Parse(p.cfg.IssuerURL); err == nil && strings.HasSuffix(u.Hostname(), ".auth0.com") {
		return LogoutAuth0
	}
	return LogoutNone
}

// Attempt is one login being started: the secrets the callback needs and the URL to send the browser to.
type Attempt struct {
	State    string // OAuth state: names the pending login
	Nonce    string // expected back in the ID token
	Verifier string // PKCE code verifier; only its S256 challenge leaves the server
	URL      string // the provider's authorize URL
}

// Start returns a fresh Attempt with random state, nonce and PKCE verifier.
func (p *Provider) Start() (*Attempt, error) {
	state, err := Random()
	if err != nil {
		return nil, err
	}
	nonce, err := Random()
	if err != nil {
		return nil, err
	}
	a := &Attempt{State: state, Nonce: nonce, Verifier: oauth2.GenerateVerifier()}
	opts := make([]oauth2.AuthCodeOption, 0, len(p.authOpts)+2)
	opts = append(opts, p.authOpts...)
	opts = append(opts, oauth2.S256ChallengeOption(a.Verifier), oidc.Nonce(a.Nonce))
	a.URL = p.oauth.AuthCodeURL(a.State, opts...)
	return a, nil
}

// Random returns 256 random bits, base64url-encoded.
func Random() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Claims is what authbridge keeps from the ID token.
type Claims struct {
	Subject string
	Email   string // a well-formed address (ParseEmail) the provider verified; empty otherwise
	Groups  []string
	SID     string

	raw map[string]json.RawMessage // every claim of the token, for Values
}

// Tokens is the outcome of a code exchange or a refresh.
type Tokens struct {
	AccessToken  string
	RefreshToken string // empty if the provider sent none (on refresh: keep the old one)
	IDToken      string // empty if the provider sent none (possible on refresh)
	Expiry       time.Time
	Claims       *Claims // from the verified ID token; nil when there was none
}

// Exchange trades an authorization code for tokens with the PKCE verifier, and verifies the ID token:
// signature (JWKS), iss, aud, exp, iat, sub, azp, at_hash and the nonce of this login.
func (p *Provider) Exchange(ctx context.Context, code, verifier, nonce string) (*Tokens, error) {
	ctx, cancel := p.callContext(ctx)
	defer cancel()
	a, err := p.tokenCall(ctx, url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {p.cfg.RedirectURL},
	})
	if err != nil {
		return nil, fmt.Errorf("exchange code: %w", classify(err))
	}
	if a.IDToken == "" {
		return nil, fmt.Errorf("exchange code: %w: no id_token in response", ErrInvalidToken)
	}
	claims, err := p.verify(ctx, a.IDToken, nonce, a.AccessToken)
	if err != nil {
		return nil, err
	}
	return p.tokens(a, claims), nil
}

// Refresh uses a refresh token. ErrInvalidGrant means the session is over; ErrInvalidToken means the
// provider's answer was refused; any other error is transient.
func (p *Provider) Refresh(ctx context.Context, refreshToken string) (*Tokens, error) {
	ctx, cancel := p.callContext(ctx)
	defer cancel()
	a, err := p.tokenCall(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}})
	if err != nil {
		return nil, fmt.Errorf("refresh token: %w", classify(err))
	}
	var claims *Claims
	if a.IDToken != "" {
		if claims, err = p.verify(ctx, a.IDToken, "", a.AccessToken); err != nil {
			return nil, err
		}
	}
	t := p.tokens(a, claims)
	if t.RefreshToken == refreshToken {
		t.RefreshToken = "" // not rotated: the caller keeps the one it has
	}
	return t, nil
}

// callContext bounds one token call by the timeout and takes one of the concurrency slots; the returned
// cancel frees it.
func (p *Provider) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	select {
	case p.slots <- struct{}{}:
		return ctx, func() { <-p.slots; cancel() }
	case <-ctx.Done():
		return ctx, cancel // the call fails at once with the context's error
	}
}

func (p *Provider) tokens(a *tokenAnswer, c *Claims) *Tokens {
	t := &Tokens{AccessToken: a.AccessToken, RefreshToken: a.RefreshToken, IDToken: a.IDToken, Claims: c}
	// Expiry comes from expires_in on our clock, else from the JWT's exp, else stays unknown.
	switch {
	case a.expiresIn > 0:
		t.Expiry = p.cfg.Now().Add(time.Duration(a.expiresIn) * time.Second)
	default:
		t.Expiry = jwtExpiry(a.AccessToken)
	}
	return t
}
