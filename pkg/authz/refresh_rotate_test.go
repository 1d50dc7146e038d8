package authz_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/pkg/session"
)

// ticketOf is the session ticket a Cookie header from env.Login carries.
func ticketOf(t *testing.T, cookie string) session.Ticket {
	t.Helper()
	tk, err := session.ParseTicket(strings.TrimPrefix(cookie, "authbridge="))
	require.NoError(t, err)
	return tk
}

// TestRefreshStoresRotatedTokens: each refresh stores the provider's rotated refresh token and its new
// ID token with the new access token, so the next refresh presents the newest refresh token (the
// provider, which detects reuse, would otherwise revoke the family and end the session) and sign-out
// hints with the newest ID token.
func TestRefreshStoresRotatedTokens(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{TokenTTL: 10 * time.Minute})
	cookie, _ := env.Login(t, "/")
	tk := ticketOf(t, cookie)
	prev, err := env.Sessions.LoadFresh(ctx, tk)
	require.NoError(t, err)
	for i := range 3 {
		env.Clock.Advance(11 * time.Minute)
		allow(t, env, cookie)
		cur, err := env.Sessions.LoadFresh(ctx, tk)
		require.NoError(t, err)
		require.NotEqual(t, prev.AccessToken, cur.AccessToken, "refresh %d", i+1)
		require.NotEqual(t, prev.RefreshToken, cur.RefreshToken, "refresh %d: rotated refresh token stored", i+1)
		require.NotEqual(t, prev.IDToken, cur.IDToken, "refresh %d: new ID token stored", i+1)
		prev = cur
	}
	st := env.IDP.Stats()
	require.Equal(t, 3, st.TokenCalls["refresh_token"])
	require.Zero(t, st.RevokedFamilies)
}

// TestRefreshLeaseAfterAnotherReplica: a replica that loaded the session before another replica
// refreshed it, and gets the lease only afterwards, re-reads the session under the lease and uses the
// stored tokens instead of refreshing a second time.
func TestRefreshLeaseAfterAnotherReplica(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{TokenTTL: 10 * time.Minute})
	late := env.Replica(t)
	cookie, _ := env.Login(t, "/")
	env.Clock.Advance(11 * time.Minute)
	token := allow(t, env, cookie) // the first replica refreshes
	require.Equal(t, 1, env.IDP.Stats().TokenCalls["refresh_token"])

	s, err := late.RefreshAsLeaseHolder(ctx, ticketOf(t, cookie))
	require.NoError(t, err)
	require.Equal(t, token, s.Bearer())
	require.Equal(t, 1, env.IDP.Stats().TokenCalls["refresh_token"], "no second refresh")
}
