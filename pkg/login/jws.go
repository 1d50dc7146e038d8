package login

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"

	"github.com/go-jose/go-jose/v4"
)

// acceptedAlgs are the JWS algorithms authbridge accepts from a provider, the asymmetric ones go-oidc
// supports: never none, never an HMAC (whose key a client could be tricked into taking from the JWKS).
var acceptedAlgs = []string{"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA"}

// Errors of ParseCompact besides ErrTooLarge. They say why a token was refused before any signature
// work; callers that verify tokens wrap them into their own invalid-token error.
var (
	// ErrJWSShape: not exactly a compact JWS in canonical base64url (JSON serialization, a JWE, an
	// opaque string, padding, whitespace), a JSON member named twice, or a key or crit header.
	ErrJWSShape = errors.New("login: not a strict compact JWS")
	// ErrJWSAlg: the header's alg is missing or not in the accepted set (none, HS256, ...).
	ErrJWSAlg = errors.New("login: JWS alg not accepted")
	// ErrJWSType: the header's typ is not one of the kinds of token the caller accepts.
	ErrJWSType = errors.New("login: JWS typ not accepted")
)

// SignatureAlgs returns every JWS algorithm authbridge accepts from any provider: the asymmetric ones
// (RS*, PS*, ES*, EdDSA), never none or an HMAC. The slice is the caller's.
func SignatureAlgs() []jose.SignatureAlgorithm {
	out := make([]jose.SignatureAlgorithm, len(acceptedAlgs))
	for i, a := range acceptedAlgs {
		out[i] = jose.SignatureAlgorithm(a)
	}
	return out
}

// Token types (JWS typ) that may sign in as each kind of token. An access token (at+jwt, RFC 9068) is
// signed with the same key as an ID token and must never pass as one.
var (
	idTokenTypes     = []string{"", "jwt"}
	logoutTokenTypes = []string{"", "jwt", "logout+jwt"}
)

// refusedHeaders name a key or a processing rule inside the token itself; keys come only from the
// provider's discovered JWKS, and authbridge understands no critical extension (RFC 7515 4.1.11).
var refusedHeaders = []string{"jku", "jwk", "x5u", "crit"}

// maxJSONDepth bounds how deeply a provider's JSON may nest before uniqueMembers gives up.
const maxJSONDepth = 32

// JWSHeader is what ParseCompact reads from a JWS protected header.
type JWSHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

// precheck applies the JWS rules go-oidc leaves out, before any signature work (OIDC Core 3.1.3.7,
// RFC 8725): a size cap, compact serialization only (go-oidc also takes the JSON serialization),
// canonical base64url with nothing else in it (go-jose strips whitespace), an accepted alg, a typ of
// this kind of token, no key or critical headers, and no JSON member named twice in header or claims.
// It then makes sure the key set was consulted for the token's kid. An error wrapping
// ErrKeysUnreachable means the provider could not be asked (transient); any other error refuses the
// token.
func (p *Provider) precheck(ctx context.Context, raw string, types []string) error {
	hdr, _, err := ParseCompact(raw, p.keys.algs, types)
	if err != nil {
		return err
	}
	if _, err := p.keys.lookup(ctx, hdr.Kid); err != nil {
		return err
	}
	return nil
}

// ParseCompact applies authbridge's JWS shape rules to raw, before any signature work, and returns its
// protected header and its decoded payload (not yet verified: only for choosing how to verify). raw must
// be at most MaxTokenBytes (ErrTooLarge), a compact JWS of three canonical unpadded base64url parts whose
// header and payload are JSON objects that name no member twice at any depth, and carry no jku, jwk, x5u
// or crit header (ErrJWSShape); its alg must be one of algs (ErrJWSAlg) and its typ, lower-cased and
// without an "application/" prefix, one of types, where "" stands for no typ (ErrJWSType). Error texts
// never quote the token.
func ParseCompact(raw string, algs []jose.SignatureAlgorithm, types []string) (*JWSHeader, []byte, error) {
	if len(raw) > MaxTokenBytes {
		return nil, nil, fmt.Errorf("%w: token of %d bytes, at most %d", ErrTooLarge, len(raw), MaxTokenBytes)
	}
	if strings.HasPrefix(strings.TrimSpace(raw), "{") {
		return nil, nil, fmt.Errorf("%w: JWS JSON serialization; only the compact one is accepted", ErrJWSShape)
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, nil, fmt.Errorf("%w: %d dot-separated parts, a compact JWS has 3 (5 is an encrypted JWE)", ErrJWSShape, len(parts))
	}
	var dec [3][]byte
	for i, part := range parts {
		if part == "" {
			return nil, nil, fmt.Errorf("%w: part %d of the JWS is empty", ErrJWSShape, i+1)
		}
		if strings.IndexFunc(part, notBase64URL) >= 0 {
			return nil, nil, fmt.Errorf("%w: part %d of the JWS is not unpadded base64url", ErrJWSShape, i+1)
		}
		var err error
		// Strict: only the canonical encoding, so a token cannot be re-spelled and still verify.
		if dec[i], err = base64.RawURLEncoding.Strict().DecodeString(part); err != nil {
			return nil, nil, fmt.Errorf("%w: part %d of the JWS is not canonical base64url", ErrJWSShape, i+1)
		}
	}
	if err := uniqueMembers(dec[0]); err != nil {
		return nil, nil, fmt.Errorf("%w: header: %w", ErrJWSShape, err)
	}
	if err := uniqueMembers(dec[1]); err != nil {
		return nil, nil, fmt.Errorf("%w: claims: %w", ErrJWSShape, err)
	}
	var members map[string]json.RawMessage
	var hdr JWSHeader
	if json.Unmarshal(dec[0], &members) != nil || json.Unmarshal(dec[0], &hdr) != nil {
		return nil, nil, fmt.Errorf("%w: header: alg, kid or typ is not a string", ErrJWSShape)
	}
	for _, name := range refusedHeaders {
		if _, ok := members[name]; ok {
			return nil, nil, fmt.Errorf("%w: header carries %s", ErrJWSShape, name)
		}
	}
	if !slices.Contains(algs, jose.SignatureAlgorithm(hdr.Alg)) {
		return nil, nil, fmt.Errorf("%w: alg %.20q is not one the provider signs with", ErrJWSAlg, hdr.Alg)
	}
	typ := strings.TrimPrefix(strings.ToLower(hdr.Typ), "application/")
	if !slices.Contains(types, typ) {
		return nil, nil, fmt.Errorf("%w: typ %.30q is not this kind of token", ErrJWSType, hdr.Typ)
	}
	return &hdr, dec[1], nil
}

func notBase64URL(r rune) bool {
	return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_')
}

// uniqueMembers fails unless data is exactly one JSON object in which no object, at any depth, names a
// member twice. Names are compared as encoding/json matches them to struct fields (case folded, so
// "sub", "SUB" and "ſub" are one name): otherwise the last spelling would silently win, and two
// readers of the same token could disagree about who it names.
func uniqueMembers(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return errors.New("not a JSON object")
	}
	if err := walkObject(dec, 1); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON object")
	}
	return nil
}

// walkObject reads the members of an object whose '{' was just read, up to and including its '}'.
func walkObject(dec *json.Decoder, depth int) error {
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("malformed JSON: %w", err)
		}
		name, _ := tok.(string)
		key := foldName(name)
		if seen[key] {
			return fmt.Errorf("member %.40q appears twice", name)
		}
		seen[key] = true
		if err := walkValue(dec, depth); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("malformed JSON: %w", err)
	}
	return nil
}

// walkValue reads one value, descending into objects and arrays.
func walkValue(dec *json.Decoder, depth int) error {
	if depth > maxJSONDepth {
		return errors.New("JSON nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("malformed JSON: %w", err)
	}
	switch tok {
	case json.Delim('{'):
		return walkObject(dec, depth+1)
	case json.Delim('['):
		for dec.More() {
			if err := walkValue(dec, depth+1); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return fmt.Errorf("malformed JSON: %w", err)
		}
	}
	return nil
}

// foldName maps every rune of s to the smallest rune of its Unicode simple-folding orbit, so two names
// that strings.EqualFold (and encoding/json) consider equal map to the same string.
func foldName(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b.WriteRune(least)
	}
	return b.String()
}
