package login_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/testca"
	"github.com/authbridge/authbridge/pkg/devidp"
	"github.com/authbridge/authbridge/pkg/login"
)

// TestPrivateCAProvider: a provider behind a private CA (devidp over TLS with a certificate from a CA
// the test makes) is discovered, and a refresh goes through its token endpoint, when RootCAs holds that
// CA; with another CA or the system roots discovery is refused and says why.
func TestPrivateCAProvider(t *testing.T) {
	ca, other := testca.New(t, "private CA"), testca.New(t, "other CA")
	srv := httptest.NewUnstartedServer(nil)
	srv.TLS = ca.ServerTLS(t, "idp")
	idp, err := devidp.New(devidp.Options{
		Issuer:  "https://" + srv.Listener.Addr().String() + "/",
		Clients: []devidp.Client{{ID: "app", Secret: "s", RedirectURIs: []string{"https://app.example/oauth2/callback"}}},
		Users:   []devidp.User{{Username: "alice", Email: "alice@example.com"}},
	})
	require.NoError(t, err)
	srv.Config.Handler = idp.Handler()
	srv.StartTLS()
	t.Cleanup(srv.Close)

	cfg := func(roots *testca.CA) login.Config {
		c := login.Config{IssuerURL: idp.Issuer(), ClientID: "app", ClientSecret: "s",
			RedirectURL: "https://app.example/oauth2/callback", Scopes: []string{"openid"}, Timeout: 5 * time.Second}
		if roots != nil {
			c.RootCAs = roots.Pool()
		}
		return c
	}
	for _, tc := range []struct {
		name    string
		roots   *testca.CA
		wantErr string
	}{
		{"trusted CA", ca, ""},
		{"another CA", other, "certificate signed by unknown authority"},
		{"system roots", nil, "certificate signed by unknown authority"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := login.New(context.Background(), cfg(tc.roots), nil)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, "discover provider "+idp.Issuer())
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			// The token endpoint is reached over the same TLS: a refresh token it never issued is
			// refused by the provider itself (invalid_grant), not by the connection.
			_, err = p.Refresh(context.Background(), "not-a-refresh-token")
			require.ErrorIs(t, err, login.ErrInvalidGrant)
		})
	}
}
