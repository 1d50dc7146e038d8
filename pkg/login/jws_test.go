package login_test

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/pkg/login"
)

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// signRS signs header.payload (raw JSON, so that tests can write what a JSON encoder never would)
// with RS256, or RS512 when sha512 is set.
func signRS(t *testing.T, key *rsa.PrivateKey, header, payload string, use512 bool) string {
	in := b64(header) + "." + b64(payload)
	var sig []byte
	var err error
	if use512 {
		sum := sha512.Sum512([]byte(in))
		sig, err = rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA512, sum[:])
	} else {
		sum := sha256.Sum256([]byte(in))
		sig, err = rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	}
	require.NoError(t, err)
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// forgery builds one hostile token from the JSON claims of an otherwise valid token.
type forgery func(t *testing.T, p *provider, claims string) string

// withClaim returns claims with one raw member put in front (so a duplicate comes first).
func withClaim(claims, member string) string { return "{" + member + "," + claims[1:] }

// shapeForgeries are tricks with the serialization and the header of a JWS. Each applies to ID tokens
// and logout tokens alike; every one of them must be refused.
func shapeForgeries(t *testing.T) []struct {
	name string
	make forgery
} {
	attacker, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	good := func(t *testing.T, p *provider, claims string) string {
		return signRS(t, p.key, `{"alg":"RS256","kid":"k1","typ":"JWT"}`, claims, false)
	}
	return []struct {
		name string
		make forgery
	}{
		{"JWS JSON serialization, flattened", func(t *testing.T, p *provider, c string) string {
			parts := strings.Split(good(t, p, c), ".")
			return `{"protected":"` + parts[0] + `","payload":"` + parts[1] + `","signature":"` + parts[2] + `"}`
		}},
		{"JWS JSON serialization, general", func(t *testing.T, p *provider, c string) string {
			parts := strings.Split(good(t, p, c), ".")
			return `{"payload":"` + parts[1] + `","signatures":[{"protected":"` + parts[0] + `","signature":"` + parts[2] + `"}]}`
		}},
		{"JWE, 5 parts, wrapping a valid token", func(t *testing.T, p *provider, c string) string {
			enc, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: jose.RSA_OAEP_256, Key: &attacker.PublicKey},
				(&jose.EncrypterOptions{}).WithContentType("JWT"))
			require.NoError(t, err)
			obj, err := enc.Encrypt([]byte(good(t, p, c)))
			require.NoError(t, err)
			out, err := obj.CompactSerialize()
			require.NoError(t, err)
			require.Equal(t, 4, strings.Count(out, "."))
			return out
		}},
		{"alg none, empty signature", func(_ *testing.T, _ *provider, c string) string {
			return b64(`{"alg":"none"}`) + "." + b64(c) + "."
		}},
		{"alg none with a signature part", func(_ *testing.T, _ *provider, c string) string {
			return b64(`{"alg":"none","kid":"k1"}`) + "." + b64(c) + "." + b64("sig")
		}},
		{"alg HS256 keyed with the provider's public key", func(t *testing.T, p *provider, c string) string {
			der, err := x509.MarshalPKIXPublicKey(&p.key.PublicKey)
			require.NoError(t, err)
			secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
			in := b64(`{"alg":"HS256","kid":"k1","typ":"JWT"}`) + "." + b64(c)
			m := hmac.New(sha256.New, secret)
			m.Write([]byte(in))
			return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
		}},
		{"alg RS512, not advertised", func(t *testing.T, p *provider, c string) string {
			return signRS(t, p.key, `{"alg":"RS512","kid":"k1"}`, c, true)
		}},
		{"alg missing", func(t *testing.T, p *provider, c string) string {
			return signRS(t, p.key, `{"kid":"k1"}`, c, false)
		}},
		{"alg named twice", func(t *testing.T, p *provider, c string) string {
			return signRS(t, p.key, `{"alg":"none","alg":"RS256","kid":"k1"}`, c, false)
		}},
		{"kid not a string", func(t *testing.T, p *provider, c string) string {
			return signRS(t, p.key, `{"alg":"RS256","kid":1}`, c, false)
		}},
		{"crit header", func(t *testing.T, p *provider, c string) string {
			return signRS(t, p.key, `{"alg":"RS256","kid":"k1","crit":["exp"],"exp":1}`, c, false)
		}},
		{"embedded jwk of the signer", func(t *testing.T, _ *provider, c string) string {
			jwk, err := json.Marshal(jose.JSONWebKey{Key: &attacker.PublicKey})
			require.NoError(t, err)
			return signRS(t, attacker, `{"alg":"RS256","kid":"k1","jwk":`+string(jwk)+`}`, c, false)
		}},
		{"jku header", func(t *testing.T, p *provider, c string) string {
			return signRS(t, p.key, `{"alg":"RS256","kid":"k1","jku":"https://evil.test/keys"}`, c, false)
		}},
		{"x5u header", func(t *testing.T, p *provider, c string) string {
			return signRS(t, p.key, `{"alg":"RS256","kid":"k1","x5u":"https://evil.test/cert"}`, c, false)
		}},
		{"typ at+jwt: an access token", func(t *testing.T, p *provider, c string) string {
			return signRS(t, p.key, `{"alg":"RS256","kid":"k1","typ":"at+jwt"}`, c, false)
		}},
		{"over 16 KiB", func(t *testing.T, p *provider, c string) string {
			return good(t, p, withClaim(c, `"pad":"`+strings.Repeat("x", login.MaxTokenBytes)+`"`))
		}},
		{"whitespace inside", func(t *testing.T, p *provider, c string) string {
			tok := good(t, p, c)
			return tok[:20] + " \n" + tok[20:]
		}},
		{"base64 padding", func(t *testing.T, p *provider, c string) string {
			parts := strings.Split(good(t, p, c), ".")
			return parts[0] + "." + parts[1] + "." + base64.URLEncoding.EncodeToString(mustDecode(t, parts[2]))
		}},
		{"non-canonical base64 signature", func(t *testing.T, p *provider, c string) string {
			tok := good(t, p, c)
			const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
			last := strings.IndexByte(alphabet, tok[len(tok)-1])
			return tok[:len(tok)-1] + string(alphabet[last^1]) // flips an unused trailing bit
		}},
		{"four parts", func(t *testing.T, p *provider, c string) string { return good(t, p, c) + "." }},
		{"empty payload", func(t *testing.T, p *provider, _ string) string {
			return signRS(t, p.key, `{"alg":"RS256","kid":"k1"}`, "", false)
		}},
		{"claim named twice", func(t *testing.T, p *provider, c string) string {
			return good(t, p, withClaim(c, `"sid":"someone-elses"`))
		}},
		{"claim spelled twice in another case", func(t *testing.T, p *provider, c string) string {
			return good(t, p, withClaim(c, `"SID":"someone-elses"`))
		}},
		{"claim spelled with a rune that folds (ſid)", func(t *testing.T, p *provider, c string) string {
			return good(t, p, withClaim(c, `"ſid":"someone-elses"`))
		}},
		{"header not JSON", func(t *testing.T, p *provider, c string) string {
			return signRS(t, p.key, `alg=RS256`, c, false)
		}},
		{"claims a JSON array", func(t *testing.T, p *provider, c string) string {
			return good(t, p, "["+c+"]")
		}},
		{"unknown kid", func(t *testing.T, _ *provider, c string) string {
			return signRS(t, attacker, `{"alg":"RS256","kid":"k-forged"}`, c, false)
		}},
		{"known kid, another key", func(t *testing.T, _ *provider, c string) string {
			return signRS(t, attacker, `{"alg":"RS256","kid":"k1"}`, c, false)
		}},
		{"empty", func(*testing.T, *provider, string) string { return "" }},
	}
}

func mustDecode(t *testing.T, s string) []byte {
	b, err := base64.RawURLEncoding.DecodeString(s)
	require.NoError(t, err)
	return b
}

// TestJWSShapeRefused: every trick with a token's serialization or header is refused, for ID tokens
// (as a 400-class ErrInvalidToken) and logout tokens (ErrInvalidLogoutToken), and no error repeats
// any part of the token.
func TestJWSShapeRefused(t *testing.T) {
	p := newProvider(t)
	lp := p.login(t, nil)
	idClaims := `{"iss":"` + p.srv.URL + `","sub":"auth0|alice","aud":"client","exp":` + unix(now.Add(time.Hour)) +
		`,"iat":` + unix(now) + `,"nonce":"n-123","sid":"sid-1"}`
	logoutClaims := `{"iss":"` + p.srv.URL + `","aud":"client","iat":` + unix(now) + `,"jti":"j1","sid":"sid-1",` +
		`"events":{"http://schemas.openid.net/event/backchannel-logout":{}}}`
	// The unforged tokens pass, so each row fails for its trick alone.
	good := signRS(t, p.key, `{"alg":"RS256","kid":"k1","typ":"JWT"}`, idClaims, false)
	p.answer = func(*http.Request) (int, any) { return 200, tokenResponse(good) }
	_, err := lp.Exchange(context.Background(), "code", "verifier", "n-123")
	require.NoError(t, err)
	_, err = lp.VerifyLogoutToken(context.Background(), signRS(t, p.key, `{"alg":"RS256","kid":"k1"}`, logoutClaims, false))
	require.NoError(t, err)

	for _, tt := range shapeForgeries(t) {
		t.Run("id token: "+tt.name, func(t *testing.T) {
			raw := tt.make(t, p, idClaims)
			p.answer = func(*http.Request) (int, any) { return 200, tokenResponse(raw) }
			tok, err := lp.Exchange(context.Background(), "code", "verifier", "n-123")
			require.ErrorIs(t, err, login.ErrInvalidToken)
			require.Nil(t, tok)
			requireNoTokenIn(t, err, raw)
		})
		t.Run("logout token: "+tt.name, func(t *testing.T) {
			raw := tt.make(t, p, logoutClaims)
			c, err := lp.VerifyLogoutToken(context.Background(), raw)
			require.ErrorIs(t, err, login.ErrInvalidLogoutToken)
			require.Nil(t, c)
			requireNoTokenIn(t, err, raw)
		})
	}
}

func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// requireNoTokenIn fails if the error text holds any long piece of the token.
func requireNoTokenIn(t *testing.T, err error, raw string) {
	t.Helper()
	for _, part := range strings.FieldsFunc(raw, func(r rune) bool { return strings.ContainsRune(".{}\":,[] \n", r) }) {
		if len(part) >= 16 {
			require.NotContains(t, err.Error(), part, "the error repeats part of the token")
		}
	}
}
