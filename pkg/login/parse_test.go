package login_test

import (
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/pkg/login"
)

// TestParseCompact: the exported shape check names why it refused a token with one sentinel per kind of
// failure, returns the header and the payload of a good one, and never quotes the token in its errors.
func TestParseCompact(t *testing.T) {
	const payload = `{"sub":"a","secret":"TOKEN-MARKER"}`
	good := b64(`{"alg":"RS256","kid":"k1","typ":"at+jwt"}`) + "." + b64(payload) + "." + b64("sig")
	algs := []jose.SignatureAlgorithm{jose.RS256}
	types := []string{"", "jwt", "at+jwt"}
	tests := []struct {
		name    string
		raw     string
		algs    []jose.SignatureAlgorithm
		wantErr error
	}{
		{"good", good, algs, nil},
		{"application/at+jwt", b64(`{"alg":"RS256","typ":"application/AT+JWT"}`) + "." + b64(payload) + "." + b64("sig"), algs, nil},
		{"too large", good + strings.Repeat("A", login.MaxTokenBytes), algs, login.ErrTooLarge},
		{"two parts", b64(`{"alg":"RS256"}`) + "." + b64(payload), algs, login.ErrJWSShape},
		{"JSON serialization", `{"payload":"` + b64(payload) + `"}`, algs, login.ErrJWSShape},
		{"opaque", "TOKEN-MARKER-opaque", algs, login.ErrJWSShape},
		{"duplicate claim", b64(`{"alg":"RS256"}`) + "." + b64(`{"sub":"a","SUB":"b"}`) + "." + b64("sig"), algs, login.ErrJWSShape},
		{"jwk header", b64(`{"alg":"RS256","jwk":{}}`) + "." + b64(payload) + "." + b64("sig"), algs, login.ErrJWSShape},
		{"alg none", b64(`{"alg":"none"}`) + "." + b64(payload) + "." + b64("sig"), algs, login.ErrJWSAlg},
		{"alg not in the given set", good, []jose.SignatureAlgorithm{jose.ES256}, login.ErrJWSAlg},
		{"typ of another kind", b64(`{"alg":"RS256","typ":"logout+jwt"}`) + "." + b64(payload) + "." + b64("sig"), algs, login.ErrJWSType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr, body, err := login.ParseCompact(tt.raw, tt.algs, types)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.NotContains(t, err.Error(), "TOKEN-MARKER")
				return
			}
			require.NoError(t, err)
			require.Equal(t, "RS256", hdr.Alg)
			require.JSONEq(t, payload, string(body))
		})
	}
	require.NotContains(t, login.SignatureAlgs(), jose.HS256)
	require.NotContains(t, login.SignatureAlgs(), jose.SignatureAlgorithm("none"))
	require.Len(t, login.SignatureAlgs(), 10)
}
