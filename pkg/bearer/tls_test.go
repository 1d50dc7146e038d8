package bearer_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/testca"
	"github.com/authbridge/authbridge/internal/testkit"
	"github.com/authbridge/authbridge/pkg/bearer"
)

// TestPrivateCAIssuer: an issuer behind a private CA is discovered and its keys fetched over TLS when
// RootCAs holds that CA, and is unavailable (never accepted) with the wrong roots.
func TestPrivateCAIssuer(t *testing.T) {
	clk := testkit.NewClock(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	ca, other := testca.New(t, "private CA"), testca.New(t, "other CA")
	idp := newIDPWith(t, clk, nil, ca.ServerTLS(t, "idp"))
	f := &fixture{clock: clk}
	tok := f.sign(t, idp, nil)

	for _, tc := range []struct {
		name    string
		roots   *testca.CA
		wantErr bool
	}{
		{"trusted CA", ca, false},
		{"another CA", other, true},
		{"system roots", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := bearer.Options{Issuers: []string{idp.Issuer()}, Audiences: []string{api}, Now: clk.Now}
			if tc.roots != nil {
				o.RootCAs = tc.roots.Pool()
			}
			v, err := bearer.New(o)
			require.NoError(t, err)
			c, err := v.Verify(context.Background(), tok)
			if !tc.wantErr {
				require.NoError(t, err)
				require.Equal(t, "auth0|alice", c.Subject)
				return
			}
			require.ErrorIs(t, err, bearer.ErrUnavailable)
			require.ErrorContains(t, err, "certificate signed by unknown authority")
		})
	}
}
