package login_test

import (
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/pkg/devidp"
	"github.com/authbridge/authbridge/pkg/login"
)

// calls reads authbridge_provider_requests_total by "endpoint/result", and the latency histogram's
// count by endpoint.
func calls(t *testing.T, reg *prometheus.Registry) (counts map[string]float64, timed map[string]uint64) {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	counts, timed = map[string]float64{}, map[string]uint64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			switch mf.GetName() {
			case "authbridge_provider_requests_total":
				counts[l["endpoint"]+"/"+l["result"]] = m.GetCounter().GetValue()
			case "authbridge_provider_request_duration_seconds":
				timed[l["endpoint"]] = m.GetHistogram().GetSampleCount()
			}
		}
	}
	return counts, timed
}

// TestProviderMetrics: calls to the development provider are counted by endpoint and result and timed:
// discovery at start-up and on ping, the token endpoint refusing a refresh token (4xx) and down (5xx),
// the JWKS on the first token to verify, and a provider that is gone (unreachable).
func TestProviderMetrics(t *testing.T) {
	srv := httptest.NewServer(nil)
	idp, err := devidp.New(devidp.Options{Issuer: srv.URL + "/",
		Clients: []devidp.Client{{ID: "app", Secret: "s", RedirectURIs: []string{"https://app.test/oauth2/callback"},
			BackchannelLogoutURI: "https://app.test/oauth2/backchannel_logout"}},
		Users: []devidp.User{{Username: "alice", Password: "pw", Email: "alice@example.com"}}})
	require.NoError(t, err)
	srv.Config.Handler = idp.Handler()
	defer srv.Close()
	reg := prometheus.NewRegistry()
	p, err := login.New(t.Context(), login.Config{IssuerURL: srv.URL + "/", ClientID: "app", ClientSecret: "s",
		RedirectURL: "https://app.test/oauth2/callback", Scopes: []string{"openid"}, Metrics: login.NewMetrics(reg)}, nil)
	require.NoError(t, err)

	want := map[string]float64{}
	for _, e := range []string{"discovery", "jwks", "token", "other"} {
		for _, r := range []string{"ok", "refused", "failed", "unreachable"} {
			want[e+"/"+r] = 0
		}
	}
	step := func(name string, do func(), moved ...string) {
		t.Helper()
		do()
		for _, m := range moved {
			want[m]++
		}
		got, timed := calls(t, reg)
		require.Equal(t, want, got, name)
		for _, e := range []string{"discovery", "jwks", "token", "other"} {
			var n float64
			for _, r := range []string{"ok", "refused", "failed", "unreachable"} {
				n += got[e+"/"+r]
			}
			require.EqualValues(t, n, timed[e], "every %s call is timed", e)
		}
	}
	step("discovery at start-up", func() {}, "discovery/ok")
	step("ping", func() { require.NoError(t, p.Ping(t.Context())) }, "discovery/ok")
	step("refresh token refused", func() {
		_, err := p.Refresh(t.Context(), "not-a-refresh-token")
		require.ErrorIs(t, err, login.ErrInvalidGrant)
	}, "token/refused")
	step("token endpoint down", func() {
		idp.SetTokenDown(true)
		defer idp.SetTokenDown(false)
		_, err := p.Refresh(t.Context(), "not-a-refresh-token")
		require.Error(t, err)
		require.NotErrorIs(t, err, login.ErrInvalidGrant)
	}, "token/failed")
	step("keys fetched for the first token", func() {
		tok, err := idp.LogoutToken("app", "alice", "sid-1")
		require.NoError(t, err)
		_, err = p.VerifyLogoutToken(t.Context(), tok)
		require.NoError(t, err)
	}, "jwks/ok")
	step("provider gone", func() {
		srv.Close()
		require.Error(t, p.Ping(t.Context()))
	}, "discovery/unreachable")
}
