package bearer_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/logbuf"
	"github.com/authbridge/authbridge/internal/testkit"
	"github.com/authbridge/authbridge/pkg/bearer"
	"github.com/authbridge/authbridge/pkg/devidp"
)

// api is the audience of the access tokens in these tests, as an Auth0 API identifier.
const api = "https://api.example.com"

// clock is a settable time source shared by the providers and the verifier.
type clock = testkit.Clock

// fixture is a main issuer (a) and an extra issuer (b), both devidp on real HTTP servers, and a
// Verifier that trusts them.
type fixture struct {
	a, b     *devidp.IDP
	clock    *clock
	v        *bearer.Verifier
	logs     *logbuf.Buffer
	sigCount atomic.Int64 // signature checks the verifier made
}

// newIDP starts a devidp at a fresh address; its access tokens are for api. wrap, when non-nil, wraps
// its handler (to count, stall or fail requests).
func newIDP(t testing.TB, clk *clock, wrap func(http.Handler) http.Handler) *devidp.IDP {
	t.Helper()
	return newIDPWith(t, clk, wrap, nil)
}

// newIDPWith is newIDP served over https with tlsConf's certificate when tlsConf is set.
func newIDPWith(t testing.TB, clk *clock, wrap func(http.Handler) http.Handler, tlsConf *tls.Config) *devidp.IDP {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	scheme := "http://"
	if tlsConf != nil {
		scheme, srv.TLS = "https://", tlsConf
	}
	idp, err := devidp.New(devidp.Options{
		Issuer:   scheme + srv.Listener.Addr().String() + "/",
		Clients:  []devidp.Client{{ID: "app", Secret: "s", RedirectURIs: []string{"http://app.example/cb"}}},
		Users:    []devidp.User{{Username: "alice", Email: "alice@example.com", Groups: []string{"admins"}}},
		Audience: api,
		Now:      clk.Now,
	})
	require.NoError(t, err)
	srv.Config.Handler = idp.Handler()
	if wrap != nil {
		srv.Config.Handler = wrap(srv.Config.Handler)
	}
	if tlsConf != nil {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return idp
}

// newFixture builds the fixture; edit may change the verifier's options.
func newFixture(t testing.TB, edit func(*bearer.Options)) *fixture {
	t.Helper()
	clk := testkit.NewClock(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	f := &fixture{clock: clk, logs: &logbuf.Buffer{}}
	f.a, f.b = newIDP(t, clk, nil), newIDP(t, clk, nil)
	o := bearer.Options{
		Issuers:   []string{f.a.Issuer(), f.b.Issuer()},
		Audiences: []string{api},
		Now:       clk.Now,
		Logger:    slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if edit != nil {
		edit(&o)
	}
	v, err := bearer.New(o)
	require.NoError(t, err)
	bearer.SetSignatureHook(v, func() { f.sigCount.Add(1) })
	f.v = v
	return f
}

// verifier returns another Verifier for the same issuers, its options changed by edit.
func (f *fixture) verifier(t *testing.T, edit func(*bearer.Options)) *bearer.Verifier {
	t.Helper()
	o := bearer.Options{Issuers: []string{f.a.Issuer(), f.b.Issuer()}, Audiences: []string{api}, Now: f.clock.Now}
	edit(&o)
	v, err := bearer.New(o)
	require.NoError(t, err)
	return v
}

// v2Logger is a logger into f.logs, for another Verifier.
func (f *fixture) v2Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// claims returns valid claims for a token of idp, with override applied (a nil value deletes).
func (f *fixture) claims(idp *devidp.IDP, override map[string]any) map[string]any {
	now := f.clock.Now()
	c := map[string]any{
		"iss": idp.Issuer(), "sub": "auth0|alice", "aud": []string{api, idp.Issuer() + "userinfo"},
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "scope": "openid email",
		"email": "alice@example.com", "email_verified": true, "groups": []string{"admins", "dev"},
	}
	for k, v := range override {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// sign has idp sign claims (typ JWT) made by f.claims.
func (f *fixture) sign(t testing.TB, idp *devidp.IDP, override map[string]any) string {
	t.Helper()
	tok, err := idp.Sign(f.claims(idp, override))
	require.NoError(t, err)
	return tok
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// signRaw signs header.payload, raw JSON written as a JSON encoder never would, with RS256 and key.
func signRaw(t *testing.T, key *rsa.PrivateKey, header, payload string) string {
	t.Helper()
	in := b64(header) + "." + b64(payload)
	sum := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	require.NoError(t, err)
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// parts splits a compact token and decodes its payload.
func payloadOf(t *testing.T, tok string) string {
	t.Helper()
	p, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	require.NoError(t, err)
	return string(p)
}

// publicKey fetches idp's signing key from its JWKS, as anyone can.
func publicKey(t *testing.T, idp *devidp.IDP) *rsa.PublicKey {
	t.Helper()
	resp, err := http.Get(idp.Issuer() + ".well-known/jwks.json")
	require.NoError(t, err)
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&set))
	require.Len(t, set.Keys, 1)
	return set.Keys[0].Key.(*rsa.PublicKey)
}

// requireRefused checks that err is a refusal for reason, with an error_description, and that
// neither the error nor the logs quote the token.
func (f *fixture) requireRefused(t *testing.T, err error, reason error, tok string) {
	t.Helper()
	require.ErrorIs(t, err, bearer.ErrInvalidToken)
	require.ErrorIs(t, err, reason)
	require.NotErrorIs(t, err, bearer.ErrUnavailable)
	desc := bearer.Description(err)
	require.NotEmpty(t, desc)
	require.NotContains(t, desc, `"`)
	require.NotContains(t, desc, `\`)
	if len(tok) >= 16 {
		require.NotContains(t, err.Error(), tok)
		require.NotContains(t, f.logs.String(), tok)
		if sig := tok[strings.LastIndexByte(tok, '.')+1:]; len(sig) >= 16 {
			require.NotContains(t, err.Error(), sig, "not even the signature")
		}
	}
}
