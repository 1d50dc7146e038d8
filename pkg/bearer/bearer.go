// Package bearer verifies the JWT access tokens that API clients send as `Authorization: Bearer`,
// against the keys of the issuers authbridge trusts, and caches the ones that verify.
//
// How the engine uses it, when bearer.audiences is set and a request carries a bearer token and no
// session cookie: Verify(ctx, token), then
//   - nil error: the identity is the Claims (Subject, Email, Groups, Values for any claim); the route
//     policy applies to it as to a session. Refused by policy → 403 with
//     `WWW-Authenticate: Bearer error="insufficient_scope"`; allowed → the upstream gets the same
//     Authorization header unchanged plus the identity headers from the Claims.
//   - errors.Is(err, ErrInvalidToken) → 401 with `WWW-Authenticate: Bearer error="invalid_token",
//     error_description="` + Description(err) + `"`; never a redirect to a login page. Log err (it names
//     the reason, never the token) at Debug.
//   - errors.Is(err, ErrUnavailable) → 503, fail closed, no challenge; log at Warn.
//
// Verify never returns any other error. Whether a header is a well-formed bearer credential at all
// (scheme, one header, token68 syntax) is for the engine to check first (RFC 6750 invalid_request).
package bearer

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authbridge/authbridge/pkg/login"
)

// Skew is the clock difference tolerated between authbridge and an issuer: a token is still accepted
// up to Skew after its exp, and its nbf and iat may be up to Skew ahead of our clock.
const Skew = 30 * time.Second

// MaxTokenBytes caps the length of a token; longer ones are refused before any other work.
const MaxTokenBytes = login.MaxTokenBytes

// DefaultCacheSize is the number of verified tokens kept when Options.CacheSize is 0.
const DefaultCacheSize = 10_000

// tokenTypes are the typ values (lower-cased, without application/) an access token may carry: none,
// JWT, or at+jwt (RFC 9068).
var tokenTypes = []string{"", "jwt", "at+jwt"}

// Options configures a Verifier. cmd fills it from pkg/config.
type Options struct {
	// Issuers are the accepted iss values, compared exactly (Auth0's trailing slash included):
	// oidc.issuer_url first, then bearer.extra_issuers. Each is discovered (OIDC discovery, then its
	// jwks_uri) on the first token that names it. Required.
	Issuers []string
	// Audiences: a token's aud (a string or an array) must contain at least one of these. Required.
	Audiences []string
	// GroupsClaim names the claim read into Claims.Groups; default "groups".
	GroupsClaim string
	// AllowUnverifiedEmail keeps a token's email even when email_verified is not JSON true.
	AllowUnverifiedEmail bool
	// HTTPClient fetches discovery documents and key sets; nil means login.HTTPClient(Timeout, RootCAs).
	// Every body read through it is capped at login.MaxBodyBytes.
	HTTPClient *http.Client
	// RootCAs are the only roots trusted for the issuers (a private CA), when HTTPClient is nil; nil
	// means the system roots.
	RootCAs *x509.CertPool
	// Metrics records the discovery and key-set calls (shared with the login provider's); may be nil.
	Metrics *login.Metrics
	// Timeout bounds each discovery and key-set fetch; default 5s.
	Timeout time.Duration
	// Now is the clock for exp, nbf, iat and the cache; default time.Now.
	Now func() time.Time
	// CacheSize bounds the number of verified tokens kept; 0 means DefaultCacheSize, negative turns the
	// cache off.
	CacheSize int
	// Logger receives discovery outcomes (Info, Warn); default discards. Verify itself logs nothing.
	Logger *slog.Logger
}

// Verifier verifies bearer tokens. It is built once at start-up, does no I/O until the first token
// names an issuer, and is safe for concurrent use.
type Verifier struct {
	issuers     map[string]*issuer // by iss, exactly as configured
	audiences   []string
	groupsClaim string
	allowEmail  bool
	algs        []jose.SignatureAlgorithm
	now         func() time.Time
	cache       *cache
	onSignature func() // tests: called before each signature check
}

// New checks o and returns a Verifier. It does no I/O, so an unreachable issuer cannot stop start-up:
// its tokens get ErrUnavailable until it answers.
func New(o Options) (*Verifier, error) {
	var errs []error
	if len(o.Issuers) == 0 {
		errs = append(errs, fmt.Errorf("%w: no issuer", ErrInvalidOptions))
	}
	for _, iss := range o.Issuers {
		if u, err := url.Parse(iss); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%w: issuer %q is not an absolute http(s) URL", ErrInvalidOptions, iss))
		}
	}
	if len(o.Audiences) == 0 || slices.Contains(o.Audiences, "") {
		errs = append(errs, fmt.Errorf("%w: no audience, or an empty one", ErrInvalidOptions))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if o.GroupsClaim == "" {
		o.GroupsClaim = "groups"
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.CacheSize == 0 {
		o.CacheSize = DefaultCacheSize
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	client := o.HTTPClient
	if client == nil {
		client = login.HTTPClient(o.Timeout, o.RootCAs)
	}
	client = login.CapClient(o.Metrics.Client(client), login.MaxBodyBytes)
	v := &Verifier{
		issuers:     make(map[string]*issuer, len(o.Issuers)),
		audiences:   slices.Clone(o.Audiences),
		groupsClaim: o.GroupsClaim,
		allowEmail:  o.AllowUnverifiedEmail,
		algs:        login.SignatureAlgs(),
		now:         o.Now,
		cache:       newCache(o.CacheSize),
	}
	for _, iss := range o.Issuers {
		v.issuers[iss] = &issuer{url: iss, client: client, timeout: o.Timeout, now: o.Now, log: o.Logger.With("issuer", iss)}
	}
	return v, nil
}

// Verify checks raw, the token of an `Authorization: Bearer` header, and returns its claims. In order:
// the size cap, the strict compact JWS shape, an asymmetric alg, typ (none, JWT or at+jwt), iss exactly
// one of Options.Issuers (which picks the key set, so a key of one issuer never verifies another's
// token), the signature, exp (required) with Skew, nbf and iat not ahead of Skew, aud, and sub. Every
// refusal wraps ErrInvalidToken and one reason; ErrUnavailable means it could not be decided now. See
// the package comment for the HTTP answers.
//
// A token that verifies is cached by its SHA-256 until its exp, so verifying it again costs a hash and
// a map lookup; failures are not cached. The returned Claims are shared with later calls for the same
// token: callers must not modify them.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Claims, error) {
	if len(raw) > MaxTokenBytes {
		return nil, refuse(ErrTooLarge, "token of %d bytes, at most %d", len(raw), MaxTokenBytes)
	}
	key := tokenKey(raw)
	if c, ok := v.cache.get(key, v.now()); ok {
		return c, nil
	}
	c, err := v.verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	v.cache.put(key, c, v.now())
	return c, nil
}

// tokenKey is the SHA-256 of raw, fed through a stack buffer: converting a whole token to []byte would
// cost an allocation of its size on every cache hit.
func tokenKey(raw string) [32]byte {
	h := sha256.New()
	var buf [512]byte
	for len(raw) > 0 {
		n := copy(buf[:], raw)
		h.Write(buf[:n])
		raw = raw[n:]
	}
	var key [32]byte
	h.Sum(key[:0])
	return key
}

// verify is Verify without the cache.
func (v *Verifier) verify(ctx context.Context, raw string) (*Claims, error) {
	_, payload, err := login.ParseCompact(raw, v.algs, tokenTypes)
	switch {
	case errors.Is(err, login.ErrTooLarge):
		return nil, refuse(ErrTooLarge, "%v", err)
	case errors.Is(err, login.ErrJWSAlg):
		return nil, refuse(ErrAlgorithm, "%v", err)
	case errors.Is(err, login.ErrJWSType):
		return nil, refuse(ErrType, "%v", err)
	case err != nil:
		return nil, refuse(ErrMalformed, "%v", err)
	}
	claims, err := parseClaims(payload)
	if err != nil {
		return nil, err
	}
	// The key set is chosen by the unverified iss, but only among the configured issuers: a token
	// naming any other issuer is refused without contacting it.
	iss, _ := stringClaim(claims, "iss")
	is, ok := v.issuers[iss]
	if !ok {
		return nil, refuse(ErrIssuer, "iss %.80q is not a configured issuer", iss)
	}
	keys, err := is.keySet(ctx)
	if err != nil {
		return nil, err
	}
	if v.onSignature != nil {
		v.onSignature()
	}
	if _, err := keys.VerifySignature(ctx, raw); err != nil {
		// The token's own size was checked above: ErrTooLarge here is the issuer's key set.
		if errors.Is(err, login.ErrKeysUnreachable) || errors.Is(err, login.ErrTooLarge) {
			return nil, fmt.Errorf("%w: keys of %s: %w", ErrUnavailable, iss, err)
		}
		return nil, refuse(ErrSignature, "%v", err)
	}
	// ParseCompact decoded the same (canonical) payload that the signature covers, so the claims read
	// above are the verified ones.
	return v.check(claims, iss, v.now())
}
