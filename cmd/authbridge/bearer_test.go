package main

import (
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/pkg/bearer"
	"github.com/authbridge/authbridge/pkg/config"
	"github.com/authbridge/authbridge/pkg/devidp"
)

// testIDP is a development provider on a real server whose access tokens are for https://api.test and
// carry the groups in claim.
func testIDP(t *testing.T, claim string) *devidp.IDP {
	t.Helper()
	srv := httptest.NewServer(nil)
	t.Cleanup(srv.Close)
	idp, err := devidp.New(devidp.Options{
		Issuer:      srv.URL + "/",
		Clients:     []devidp.Client{{ID: "app", RedirectURIs: []string{"http://127.0.0.1/cb"}}},
		Users:       []devidp.User{{Username: "alice", Groups: []string{"admins"}}},
		Audience:    "https://api.test",
		GroupsClaim: claim,
	})
	require.NoError(t, err)
	srv.Config.Handler = idp.Handler()
	return idp
}

// TestNewVerifier: bearer tokens are off without bearer.audiences; with it, tokens of oidc.issuer_url
// and of every extra issuer verify for those audiences, with groups from oidc.groups_claim.
func TestNewVerifier(t *testing.T) {
	const claim = "https://example.com/groups"
	primary, extra, other := testIDP(t, claim), testIDP(t, claim), testIDP(t, claim)
	env := []string{
		"AUTHBRIDGE_OIDC_ISSUER_URL=" + primary.Issuer(),
		"AUTHBRIDGE_OIDC_CLIENT_ID=app",
		"AUTHBRIDGE_OIDC_REDIRECT_URL=http://127.0.0.1:4180/oauth2/callback",
		"AUTHBRIDGE_OIDC_GROUPS_CLAIM=" + claim,
		"AUTHBRIDGE_SESSION_STORE=memory",
	}
	log := slog.New(slog.DiscardHandler)

	cfg, err := config.Load("", env)
	require.NoError(t, err)
	v, err := newVerifier(cfg, nil, log)
	require.NoError(t, err)
	require.Nil(t, v, "off without bearer.audiences")

	cfg, err = config.Load("", append(env, "AUTHBRIDGE_BEARER_AUDIENCES=https://other.api,https://api.test",
		"AUTHBRIDGE_BEARER_EXTRA_ISSUERS="+extra.Issuer()))
	require.NoError(t, err)
	v, err = newVerifier(cfg, nil, log)
	require.NoError(t, err)
	for _, idp := range []*devidp.IDP{primary, extra} {
		tok, err := idp.AccessToken("app", "alice", "openid")
		require.NoError(t, err)
		c, err := v.Verify(t.Context(), tok)
		require.NoError(t, err)
		require.Equal(t, idp.Issuer(), c.Issuer)
		require.Equal(t, []string{"admins"}, c.Groups)
	}
	tok, err := other.AccessToken("app", "alice", "openid")
	require.NoError(t, err)
	_, err = v.Verify(t.Context(), tok)
	require.ErrorIs(t, err, bearer.ErrIssuer)
	tok, err = primary.Sign(map[string]any{"iss": primary.Issuer(), "sub": "x", "aud": "https://elsewhere",
		"exp": time.Now().Add(time.Hour).Unix()})
	require.NoError(t, err)
	_, err = v.Verify(t.Context(), tok)
	require.ErrorIs(t, err, bearer.ErrAudience)
}
