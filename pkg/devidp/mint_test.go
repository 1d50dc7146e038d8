package devidp_test

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/pkg/devidp"
)

// TestAccessTokenMatchesTheTokenEndpoint: AccessToken mints what a login would have returned as the
// access token (same header, same claim names, same audience), and SignTyped signs with the
// provider's key under the typ asked for.
func TestAccessTokenMatchesTheTokenEndpoint(t *testing.T) {
	f := newFixture(t, nil)
	viaLogin, _ := f.login(t)
	minted, err := f.idp.AccessToken("app", "alice", "openid profile email offline_access")
	require.NoError(t, err)

	hdrLogin, claimsLogin := decodeJWT(t, viaLogin.AccessToken)
	hdrMinted, claimsMinted := decodeJWT(t, minted)
	require.Equal(t, hdrLogin, hdrMinted)
	require.Equal(t, "at+jwt", hdrMinted["typ"])
	require.Equal(t, f.idp.KeyID(), hdrMinted["kid"])
	require.Equal(t, keysOf(claimsLogin), keysOf(claimsMinted))
	require.Equal(t, claimsLogin["aud"], claimsMinted["aud"])
	require.Equal(t, claimsLogin["sub"], claimsMinted["sub"])
	_, err = f.verifier(audience).Verify(t.Context(), minted)
	require.NoError(t, err, "signed with the provider's key, for the audience")

	_, err = f.idp.AccessToken("app", "mallory", "openid")
	require.ErrorIs(t, err, devidp.ErrInvalidOptions)
	_, err = f.idp.AccessToken("nobody", "alice", "openid")
	require.ErrorIs(t, err, devidp.ErrInvalidOptions)

	for _, typ := range []string{"", "JWT", "logout+jwt"} {
		tok, err := f.idp.SignTyped(typ, map[string]any{"iss": f.issuer, "sub": "x", "aud": audience,
			"exp": f.clock.Now().Unix() + 60, "iat": f.clock.Now().Unix()})
		require.NoError(t, err)
		hdr, _ := decodeJWT(t, tok)
		if typ == "" {
			require.NotContains(t, hdr, "typ")
		} else {
			require.Equal(t, typ, hdr["typ"])
		}
		_, err = f.verifier(audience).Verify(t.Context(), tok)
		require.NoError(t, err, "signed with the provider's key")
	}
}

func decodeJWT(t *testing.T, raw string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(raw, ".")
	require.Len(t, parts, 3)
	for i, out := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, out))
	}
	return header, claims
}

func keysOf(m map[string]any) string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}
