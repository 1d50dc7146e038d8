package login_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/pkg/login"
)

// raw answers with a fixed Content-Type (none when empty) and body.
func raw(contentType, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		if contentType == "" {
			w.Header()["Content-Type"] = nil // no sniffing either
		} else {
			w.Header().Set("Content-Type", contentType)
		}
		_, _ = w.Write([]byte(body))
	}
}

// oversized answers valid JSON padded past MaxBodyBytes, announcing its length or sent chunked.
func oversized(body string, announce bool) http.HandlerFunc {
	padded := body[:len(body)-1] + strings.Repeat(" ", login.MaxBodyBytes) + "}"
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if announce {
			w.Header().Set("Content-Length", strconv.Itoa(len(padded)))
		}
		_, _ = w.Write([]byte(padded))
	}
}

// TestTokenResponseRefused: a 200 from the token endpoint must be one JSON object, served as
// application/json, with an access token of type Bearer; anything else is refused as ErrInvalidToken
// (a 4xx for the browser), for the code exchange and for refresh alike.
func TestTokenResponseRefused(t *testing.T) {
	p := newProvider(t)
	lp := p.login(t, nil)
	idt := p.idToken(p.key, nil)
	member := func(extra string) string {
		return `{` + extra + `"access_token":"at-1","expires_in":600,"refresh_token":"rt-1","id_token":"` + idt + `"}`
	}
	bearer := member(`"token_type":"Bearer",`)
	const ok, invalid, grant = "ok", "invalid", "invalid_grant"
	tests := []struct {
		name   string
		answer http.HandlerFunc
		want   string
	}{
		{"faithful", raw("application/json", bearer), ok},
		{"token_type mac", raw("application/json", member(`"token_type":"mac",`)), invalid},
		{"token_type DPoP", raw("application/json", member(`"token_type":"DPoP",`)), invalid},
		{"no token_type", raw("application/json", member(``)), invalid},
		{"token_type with a trailing space", raw("application/json", member(`"token_type":"Bearer ",`)), invalid},
		{"token_type bearer in lower case", raw("application/json", member(`"token_type":"bearer",`)), ok},
		{"token_type BEARER", raw("application/json", member(`"token_type":"BEARER",`)), ok},
		{"form-encoded body", raw("application/x-www-form-urlencoded",
			"access_token=at-1&token_type=Bearer&expires_in=600&id_token="+idt), invalid},
		{"text/plain form body", raw("text/plain", "access_token=at-1&token_type=Bearer&id_token="+idt), invalid},
		{"text/html with a JSON body", raw("text/html", bearer), invalid},
		{"no Content-Type", raw("", bearer), invalid},
		{"application/json with a charset", raw("application/json; charset=utf-8", bearer), ok},
		{"a JSON array", raw("application/json", "["+bearer+"]"), invalid},
		{"two JSON objects", raw("application/json", bearer+bearer), invalid},
		{"id_token named twice", raw("application/json", member(`"token_type":"Bearer","id_token":"x.y.z",`)), invalid},
		{"access_token spelled twice in another case", raw("application/json", member(`"token_type":"Bearer","ACCESS_TOKEN":"at-2",`)), invalid},
		{"no access_token", raw("application/json", `{"token_type":"Bearer","id_token":"`+idt+`"}`), invalid},
		{"access_token a number", raw("application/json", `{"token_type":"Bearer","access_token":1,"id_token":"`+idt+`"}`), invalid},
		{"expires_in negative", raw("application/json", `{"token_type":"Bearer","access_token":"a","expires_in":-5,"id_token":"`+idt+`"}`), invalid},
		{"expires_in a word", raw("application/json", `{"token_type":"Bearer","access_token":"a","expires_in":"soon","id_token":"`+idt+`"}`), invalid},
		{"JSON nested 100 deep", raw("application/json", member(`"token_type":"Bearer","x":`+strings.Repeat("[", 100)+strings.Repeat("]", 100)+`,`)), invalid},
		{"over 1 MiB, announced", oversized(bearer, true), invalid},
		{"over 1 MiB, chunked", oversized(bearer, false), invalid},
		{"invalid_grant with status 200", raw("application/json", `{"error":"invalid_grant"}`), grant},
	}
	for _, tt := range tests {
		for _, call := range []string{"exchange", "refresh"} {
			t.Run(call+": "+tt.name, func(t *testing.T) {
				p.hooks["/token"] = tt.answer
				t.Cleanup(func() { delete(p.hooks, "/token") })
				var err error
				if call == "exchange" {
					_, err = lp.Exchange(context.Background(), "code", "verifier", "n-123")
				} else {
					_, err = lp.Refresh(context.Background(), "rt-old")
				}
				switch tt.want {
				case ok:
					require.NoError(t, err)
				case invalid:
					require.ErrorIs(t, err, login.ErrInvalidToken)
					require.NotContains(t, err.Error(), idt[len(idt)-30:], "errors never carry a token")
				case grant:
					require.ErrorIs(t, err, login.ErrInvalidGrant)
				}
				if strings.Contains(tt.name, "over 1 MiB") {
					require.ErrorIs(t, err, login.ErrTooLarge)
				}
			})
		}
	}
}

// TestProviderBodyCaps: the discovery document and the JWKS are read under the same caps and rules. A
// JWKS that arrives but is unusable refuses the token (4xx); one that does not arrive is transient.
func TestProviderBodyCaps(t *testing.T) {
	p := newProvider(t)
	discovery := func(algs string, jwks bool) string {
		d := `{"issuer":"` + p.srv.URL + `","authorization_endpoint":"` + p.srv.URL + `/auth","token_endpoint":"` +
			p.srv.URL + `/token","id_token_signing_alg_values_supported":` + algs
		if jwks {
			d += `,"jwks_uri":"` + p.srv.URL + `/keys"`
		}
		return d + "}"
	}
	const path = "/.well-known/openid-configuration"
	for _, tt := range []struct {
		name   string
		answer http.HandlerFunc
		want   string // in the error
	}{
		{"discovery over 1 MiB, announced", oversized(discovery(`["RS256"]`, true), true), "too large"},
		{"discovery over 1 MiB, chunked", oversized(discovery(`["RS256"]`, true), false), "too large"},
		{"discovery without jwks_uri", raw("application/json", discovery(`["RS256"]`, false)), "jwks_uri"},
		{"discovery advertising only HS256 and none", raw("application/json", discovery(`["HS256","none"]`, true)), "signs ID tokens with none of"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p.hooks[path] = tt.answer
			t.Cleanup(func() { delete(p.hooks, path) })
			_, err := login.New(context.Background(), login.Config{IssuerURL: p.srv.URL, ClientID: "client", Now: func() time.Time { return now }}, p.srv.Client())
			require.ErrorContains(t, err, tt.want)
		})
	}

	good := keysJSON(t, p, "RS256", "sig")
	for _, tt := range []struct {
		name      string
		answer    http.HandlerFunc
		transient bool
	}{
		{"JWKS over 1 MiB", oversized(good, false), false},
		{"JWKS not JSON", raw("application/json", "<html>keys</html>"), false},
		{"JWKS with only a symmetric key", raw("application/json", `{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"k1","alg":"HS256"}]}`), false},
		{"JWKS naming keys twice", raw("application/json", `{"keys":[],"keys":`+good[len(`{"keys":`):]), false},
		{"JWKS key published for another alg", raw("application/json", keysJSON(t, p, "RS512", "sig")), false},
		{"JWKS key for encryption", raw("application/json", keysJSON(t, p, "RS256", "enc")), false},
		{"JWKS answers 503", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) }, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p.hooks["/keys"] = tt.answer
			t.Cleanup(func() { delete(p.hooks, "/keys") })
			lp := p.login(t, nil) // a fresh key set
			p.answer = func(*http.Request) (int, any) { return 200, tokenResponse(p.idToken(p.key, nil)) }
			_, err := lp.Exchange(context.Background(), "code", "verifier", "n-123")
			require.Error(t, err)
			require.Equal(t, !tt.transient, errors.Is(err, login.ErrInvalidToken), err)
			if strings.Contains(tt.name, "over 1 MiB") {
				require.ErrorIs(t, err, login.ErrTooLarge)
			}
			lp = p.login(t, nil)
			_, err = lp.VerifyLogoutToken(context.Background(), p.idToken(p.key, map[string]any{"nonce": nil, "jti": "j",
				"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}}))
			require.Error(t, err)
			require.Equal(t, !tt.transient, errors.Is(err, login.ErrInvalidLogoutToken), err)
		})
	}
}

// keysJSON is the provider's JWKS with its one key published for alg and use.
func keysJSON(t *testing.T, p *provider, alg, use string) string {
	b, err := json.Marshal(map[string]any{"keys": []any{jose.JSONWebKey{Key: p.key.Public(), KeyID: "k1", Algorithm: alg, Use: use}}})
	require.NoError(t, err)
	return string(b)
}

// TestTokenClientAuth: the client authenticates exactly one way, as discovery allows, and a public
// client sends only its client_id.
func TestTokenClientAuth(t *testing.T) {
	p := newProvider(t)
	postOnly := `{"issuer":"` + p.srv.URL + `","authorization_endpoint":"` + p.srv.URL + `/auth","token_endpoint":"` +
		p.srv.URL + `/token","jwks_uri":"` + p.srv.URL + `/keys","token_endpoint_auth_methods_supported":["client_secret_post"]}`
	tests := []struct {
		name       string
		secret     string
		discovery  http.HandlerFunc // nil: oidctest's, which names no auth methods
		wantBasic  string           // user:password of the Authorization header, "" for none
		wantParams url.Values       // client_id and client_secret in the body
	}{
		{"secret, basic by default", "s3cret", nil, "client:s3cret", url.Values{}},
		{"secret with reserved characters is form-encoded first", "a:b&c", nil, "client:a%3Ab%26c", url.Values{}},
		{"secret, provider takes only client_secret_post", "s3cret", raw("application/json", postOnly), "",
			url.Values{"client_id": {"client"}, "client_secret": {"s3cret"}}},
		{"public client", "", nil, "", url.Values{"client_id": {"client"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.discovery != nil {
				p.hooks["/.well-known/openid-configuration"] = tt.discovery
				t.Cleanup(func() { delete(p.hooks, "/.well-known/openid-configuration") })
			}
			lp := p.login(t, func(c *login.Config) { c.ClientSecret = tt.secret })
			var basic string
			got := url.Values{}
			p.answer = func(r *http.Request) (int, any) {
				if u, pw, ok := r.BasicAuth(); ok {
					basic = u + ":" + pw
				}
				_ = r.ParseForm()
				for _, k := range []string{"client_id", "client_secret"} {
					if v, ok := r.PostForm[k]; ok {
						got[k] = v
					}
				}
				return 200, tokenResponse(p.idToken(p.key, nil))
			}
			_, err := lp.Exchange(context.Background(), "code", "verifier", "n-123")
			require.NoError(t, err)
			require.Equal(t, tt.wantBasic, basic)
			require.Equal(t, tt.wantParams, got)
		})
	}
}
