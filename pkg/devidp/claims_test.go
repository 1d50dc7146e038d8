package devidp_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/pkg/devidp"
)

// TestExtraClaims: a user's extra claims reach the ID and access tokens, as an Auth0 Action's namespaced
// claims do, and never replace a claim devidp sets itself.
func TestExtraClaims(t *testing.T) {
	f := newFixture(t, func(o *devidp.Options) {
		o.Users[0].Claims = map[string]any{"https://example.com/roles": []string{"editor"}, "tier": "gold", "sub": "forged", "email": "x@evil.test"}
	})
	tok, _ := f.login(t)
	for aud, raw := range map[string]string{"app": tok.Extra("id_token").(string), audience: tok.AccessToken} {
		token, err := f.verifier(aud).Verify(t.Context(), raw)
		require.NoError(t, err, aud)
		var c map[string]any
		require.NoError(t, token.Claims(&c))
		require.Equal(t, []any{"editor"}, c["https://example.com/roles"], aud)
		require.Equal(t, "gold", c["tier"], aud)
		require.NotEqual(t, "forged", c["sub"], aud)
		if aud == "app" {
			require.Equal(t, "alice@example.com", c["email"], "the ID token's own email stays")
		}
	}
}
