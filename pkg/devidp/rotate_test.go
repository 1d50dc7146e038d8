package devidp_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRotateKeys: after a rotation tokens carry the new kid, the JWKS publishes the new key first and the
// old one beside it, and a token signed before the rotation still verifies (userinfo, the verifier).
func TestRotateKeys(t *testing.T) {
	f := newFixture(t, nil)
	before, _ := f.login(t)
	oldKid := f.idp.KeyID()
	require.NoError(t, f.idp.RotateKeys())
	require.NotEqual(t, oldKid, f.idp.KeyID())
	after, _ := f.login(t)

	resp, err := http.Get(f.issuer + ".well-known/jwks.json")
	require.NoError(t, err)
	var set struct{ Keys []struct{ Kid string } }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&set))
	resp.Body.Close()
	require.Len(t, set.Keys, 2)
	require.Equal(t, []string{f.idp.KeyID(), oldKid}, []string{set.Keys[0].Kid, set.Keys[1].Kid})

	for name, tok := range map[string]string{"signed before": before.AccessToken, "signed after": after.AccessToken} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, f.issuer+"userinfo", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, name)
	}
	for name, tok := range map[string]any{"signed before": before.Extra("id_token"), "signed after": after.Extra("id_token")} {
		_, err := f.verifier("app").Verify(t.Context(), tok.(string))
		require.NoError(t, err, name)
	}
}
