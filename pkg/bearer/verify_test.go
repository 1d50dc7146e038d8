package bearer_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc/oidctest"
	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/pkg/bearer"
)

// row is one token and what Verify must say about it: want nil accepts it.
type row struct {
	name  string
	token func(t *testing.T, f *fixture) string
	want  error
}

// runRows verifies each row's token with one shared fixture (rows must not move its clock).
func runRows(t *testing.T, f *fixture, rows []row) {
	t.Helper()
	for _, tt := range rows {
		t.Run(tt.name, func(t *testing.T) {
			tok := tt.token(t, f)
			c, err := f.v.Verify(t.Context(), tok)
			if tt.want == nil {
				require.NoError(t, err)
				require.Equal(t, "auth0|alice", c.Subject)
				return
			}
			require.Nil(t, c)
			f.requireRefused(t, err, tt.want, tok)
		})
	}
}

// TestVerifyShape: the serialization and the header. Only a compact JWS with an asymmetric alg and a
// typ of JWT, at+jwt or none gets as far as its issuer's keys.
func TestVerifyShape(t *testing.T) {
	f := newFixture(t, nil)
	attacker, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	valid := func(t *testing.T, f *fixture) string { return f.sign(t, f.a, nil) }
	typed := func(typ string) func(t *testing.T, f *fixture) string {
		return func(t *testing.T, f *fixture) string {
			tok, err := f.a.SignTyped(typ, f.claims(f.a, nil))
			require.NoError(t, err)
			return tok
		}
	}
	withHeader := func(header string) func(t *testing.T, f *fixture) string {
		return func(t *testing.T, f *fixture) string {
			return b64(header) + "." + strings.Split(valid(t, f), ".")[1] + "." + b64("sig")
		}
	}
	runRows(t, f, []row{
		{"access token from the token endpoint (typ at+jwt)", func(t *testing.T, f *fixture) string {
			tok, err := f.a.AccessToken("app", "alice", "openid email")
			require.NoError(t, err)
			return tok
		}, nil},
		{"typ JWT", typed("JWT"), nil},
		{"no typ", typed(""), nil},
		{"typ application/at+jwt", typed("application/at+jwt"), nil},
		{"typ logout+jwt", typed("logout+jwt"), bearer.ErrType},
		{"typ secevent+jwt", typed("secevent+jwt"), bearer.ErrType},
		{"typ JOSE", typed("JOSE"), bearer.ErrType},
		{"alg none, no signature", func(t *testing.T, f *fixture) string {
			return b64(`{"alg":"none"}`) + "." + strings.Split(valid(t, f), ".")[1] + "."
		}, bearer.ErrMalformed},
		{"alg none with a signature part", withHeader(`{"alg":"none","kid":"` + f.a.KeyID() + `"}`), bearer.ErrAlgorithm},
		{"alg HS256 keyed with the issuer's public key", func(t *testing.T, f *fixture) string {
			der, err := x509.MarshalPKIXPublicKey(publicKey(t, f.a))
			require.NoError(t, err)
			in := b64(`{"alg":"HS256","kid":"`+f.a.KeyID()+`","typ":"JWT"}`) + "." + strings.Split(valid(t, f), ".")[1]
			m := hmac.New(sha256.New, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
			m.Write([]byte(in))
			return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
		}, bearer.ErrAlgorithm},
		{"alg missing", withHeader(`{"kid":"` + f.a.KeyID() + `"}`), bearer.ErrAlgorithm},
		{"embedded jwk of the signer", func(t *testing.T, f *fixture) string {
			jwk, err := json.Marshal(jose.JSONWebKey{Key: &attacker.PublicKey})
			require.NoError(t, err)
			return signRaw(t, attacker, `{"alg":"RS256","jwk":`+string(jwk)+`}`, payloadOf(t, valid(t, f)))
		}, bearer.ErrMalformed},
		{"jku header", withHeader(`{"alg":"RS256","jku":"https://evil.example/keys"}`), bearer.ErrMalformed},
		{"two parts", func(t *testing.T, f *fixture) string {
			p := strings.Split(valid(t, f), ".")
			return p[0] + "." + p[1]
		}, bearer.ErrMalformed},
		{"five parts (a JWE, as Auth0 issues without an audience)", func(t *testing.T, f *fixture) string {
			enc, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: jose.RSA_OAEP_256, Key: &attacker.PublicKey}, nil)
			require.NoError(t, err)
			obj, err := enc.Encrypt([]byte(valid(t, f)))
			require.NoError(t, err)
			out, err := obj.CompactSerialize()
			require.NoError(t, err)
			return out
		}, bearer.ErrMalformed},
		{"JWS JSON serialization", func(t *testing.T, f *fixture) string {
			p := strings.Split(valid(t, f), ".")
			return `{"protected":"` + p[0] + `","payload":"` + p[1] + `","signature":"` + p[2] + `"}`
		}, bearer.ErrMalformed},
		{"opaque token", func(*testing.T, *fixture) string { return "kZ8mQ2vY7xR4tP1wN6sB3cH9dJ5fL0gA" }, bearer.ErrMalformed},
		{"empty", func(*testing.T, *fixture) string { return "" }, bearer.ErrMalformed},
		{"whitespace inside", func(t *testing.T, f *fixture) string { tok := valid(t, f); return tok[:30] + " " + tok[30:] }, bearer.ErrMalformed},
		{"base64 padding", func(t *testing.T, f *fixture) string { return valid(t, f) + "=" }, bearer.ErrMalformed},
		{"sub twice, second spelled SUB", func(t *testing.T, f *fixture) string {
			return signRaw(t, attacker, `{"alg":"RS256","kid":"`+f.a.KeyID()+`"}`, `{"sub":"auth0|alice","SUB":"admin"}`)
		}, bearer.ErrMalformed},
		{"over 16 KiB, validly signed", func(t *testing.T, f *fixture) string {
			return f.sign(t, f.a, map[string]any{"pad": strings.Repeat("x", bearer.MaxTokenBytes)})
		}, bearer.ErrTooLarge},
		{"over 16 KiB of garbage", func(*testing.T, *fixture) string { return strings.Repeat("A", 1<<20) }, bearer.ErrTooLarge},
	})
}

// TestVerifyIssuerAndSignature: iss picks the key set, and only among the configured issuers; a key of
// one issuer never verifies another's token.
func TestVerifyIssuerAndSignature(t *testing.T) {
	f := newFixture(t, nil)
	attacker, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	stranger := newIDP(t, f.clock, nil) // a working provider nobody configured
	runRows(t, f, []row{
		{"main issuer", func(t *testing.T, f *fixture) string { return f.sign(t, f.a, nil) }, nil},
		{"extra issuer", func(t *testing.T, f *fixture) string { return f.sign(t, f.b, nil) }, nil},
		{"iss of the main issuer, signed by the extra one (its kid)", func(t *testing.T, f *fixture) string {
			tok, err := f.b.Sign(f.claims(f.a, nil))
			require.NoError(t, err)
			return tok
		}, bearer.ErrSignature},
		{"iss of the extra issuer, signed by the main one", func(t *testing.T, f *fixture) string {
			tok, err := f.a.Sign(f.claims(f.b, nil))
			require.NoError(t, err)
			return tok
		}, bearer.ErrSignature},
		{"issuer not configured, with its own valid signature", func(t *testing.T, f *fixture) string { return f.sign(t, stranger, nil) }, bearer.ErrIssuer},
		{"iss without the trailing slash", func(t *testing.T, f *fixture) string {
			return f.sign(t, f.a, map[string]any{"iss": strings.TrimSuffix(f.a.Issuer(), "/")})
		}, bearer.ErrIssuer},
		{"iss with another case", func(t *testing.T, f *fixture) string {
			return f.sign(t, f.a, map[string]any{"iss": strings.Replace(f.a.Issuer(), "http://", "HTTP://", 1)})
		}, bearer.ErrIssuer},
		{"iss missing", func(t *testing.T, f *fixture) string { return f.sign(t, f.a, map[string]any{"iss": nil}) }, bearer.ErrIssuer},
		{"iss an array holding the issuer", func(t *testing.T, f *fixture) string {
			return f.sign(t, f.a, map[string]any{"iss": []string{f.a.Issuer()}})
		}, bearer.ErrIssuer},
		{"signed by an attacker with the issuer's kid", func(t *testing.T, f *fixture) string {
			return signRaw(t, attacker, `{"alg":"RS256","kid":"`+f.a.KeyID()+`"}`, payloadOf(t, f.sign(t, f.a, nil)))
		}, bearer.ErrSignature},
		{"signed by an attacker without kid", func(t *testing.T, f *fixture) string {
			return signRaw(t, attacker, `{"alg":"RS256"}`, payloadOf(t, f.sign(t, f.a, nil)))
		}, bearer.ErrSignature},
		{"payload changed after signing", func(t *testing.T, f *fixture) string {
			p := strings.Split(f.sign(t, f.a, nil), ".")
			return p[0] + "." + b64(strings.Replace(payloadOf(t, p[0]+"."+p[1]), "auth0|alice", "auth0|admin", 1)) + "." + p[2]
		}, bearer.ErrSignature},
		{"header changed after signing (alg RS512)", func(t *testing.T, f *fixture) string {
			p := strings.Split(f.sign(t, f.a, nil), ".")
			return b64(`{"alg":"RS512","kid":"`+f.a.KeyID()+`","typ":"JWT"}`) + "." + p[1] + "." + p[2]
		}, bearer.ErrSignature},
	})
	require.Zero(t, stranger.Stats().KeyFetches, "an issuer nobody configured is never contacted")
}

// TestVerifyAlgorithms: every asymmetric algorithm is accepted from an issuer that publishes a key for
// it, whatever its discovery says about ID tokens (RS256 here); a key published for one algorithm
// never verifies a token that names another.
func TestVerifyAlgorithms(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	op := &oidctest.Server{PublicKeys: []oidctest.PublicKey{
		{PublicKey: rsaKey.Public(), KeyID: "ps", Algorithm: "PS256"},
		{PublicKey: rsaKey.Public(), KeyID: "rs", Algorithm: "RS384"},
		{PublicKey: ecKey.Public(), KeyID: "es", Algorithm: "ES256"},
		{PublicKey: edKey.Public(), KeyID: "ed", Algorithm: "EdDSA"},
	}}
	srv := httptest.NewServer(op)
	t.Cleanup(srv.Close)
	op.SetIssuer(srv.URL)
	now := time.Now()
	v, err := bearer.New(bearer.Options{Issuers: []string{srv.URL}, Audiences: []string{api}, Now: func() time.Time { return now }})
	require.NoError(t, err)
	claims := fmt.Sprintf(`{"iss":%q,"sub":"svc@clients","aud":%q,"exp":%d}`, srv.URL, api, now.Add(time.Hour).Unix())
	tests := []struct {
		name     string
		key      crypto.PrivateKey
		kid, alg string
		want     error
	}{
		{"PS256", rsaKey, "ps", "PS256", nil},
		{"RS384", rsaKey, "rs", "RS384", nil},
		{"ES256", ecKey, "es", "ES256", nil},
		{"EdDSA", edKey, "ed", "EdDSA", nil},
		{"RS256 with the key published for PS256", rsaKey, "ps", "RS256", bearer.ErrSignature},
		{"RS512 with the key published for RS384", rsaKey, "rs", "RS512", bearer.ErrSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(t.Context(), oidctest.SignIDToken(tt.key, tt.kid, tt.alg, claims))
			if tt.want == nil {
				require.NoError(t, err)
				require.Equal(t, "svc@clients", c.Subject)
				return
			}
			require.ErrorIs(t, err, bearer.ErrInvalidToken)
			require.ErrorIs(t, err, tt.want)
		})
	}
}
