package extauthz_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/pkg/session/sessiontest"
)

// requirePrivate: the denied answer carries the headers of every /oauth2/ answer, exactly once each.
func requirePrivate(t *testing.T, resp *authv3.CheckResponse) {
	t.Helper()
	hs := headerMap(resp.GetDeniedResponse().GetHeaders())
	require.Equal(t, []string{"no-store"}, hs["cache-control"])
	require.Equal(t, []string{"no-referrer"}, hs["referrer-policy"])
	require.Equal(t, []string{"nosniff"}, hs["x-content-type-options"])
}

// TestCheckReturnURLs is rule 4 through Check: the origin is :authority and x-forwarded-proto, and the
// Location after the callback is absolute on it whatever rd asked for.
func TestCheckReturnURLs(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{})
	c := client(t, env)
	const app = "https://" + enginetest.AppHost
	tests := []struct {
		name, proto, rd, want string
	}{
		{"relative", "https", "/ok", app + "/ok"},
		{"downgrade to http", "https", "http://" + enginetest.AppHost + "/x", app + "/"},
		{"http request may return to http", "http", "http://" + enginetest.AppHost + "/x", "http://" + enginetest.AppHost + "/x"},
		{"unlisted port", "https", app + ":9999/steal", app + "/"},
		{"userinfo with port", "https", app + ":443@evil.com", app + "/"},
		{"backslash", "https", "/\\evil.com", app + "/"},
		{"percent-encoded host", "https", "https://%61pp.example.test/", app + "/"},
		{"upper case", "https", "HTTPS://APP.EXAMPLE.TEST/Y", app + "/Y"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := c.Check(context.Background(), envoyRequest("GET", "/oauth2/start?rd="+url.QueryEscape(tt.rd),
				map[string]string{"x-forwarded-proto": tt.proto}))
			require.NoError(t, err)
			requirePrivate(t, resp)
			hs := headerMap(resp.GetDeniedResponse().GetHeaders())
			pending := strings.SplitN(hs["set-cookie"][0], ";", 2)[0]
			cb := env.FollowToProvider(t, hs["location"][0])
			resp, err = c.Check(context.Background(), envoyRequest("GET", cb, browser(pending)))
			require.NoError(t, err)
			require.EqualValues(t, 302, resp.GetDeniedResponse().GetStatus().GetCode())
			require.Equal(t, []string{tt.want}, headerMap(resp.GetDeniedResponse().GetHeaders())["location"])
			requirePrivate(t, resp)
		})
	}
}

// TestCheckCallbackAndOAuth2Headers is rule 5 through Check: refused callbacks are 400, a provider error
// is 403 without its text, and every answer about /oauth2/ carries no-store, no-referrer and nosniff.
func TestCheckCallbackAndOAuth2Headers(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{})
	c := client(t, env)
	tests := []struct {
		name       string
		path       string
		wantStatus int
	}{
		{"code=a&code=b", "/oauth2/callback?code=a&code=b&state=x", 400},
		{"state=x&state=x", "/oauth2/callback?code=a&state=x&state=x", 400},
		{"iss of another issuer", "/oauth2/callback?code=a&state=x&iss=https%3A%2F%2Fevil.example%2F", 400},
		{"provider error with HTML", "/oauth2/callback?error=access_denied&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E&state=x", 403},
		{"sign-out", "/oauth2/sign_out", 302},
		{"unknown oauth2 path", "/oauth2/userinfo", 302},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := c.Check(context.Background(), envoyRequest("GET", tt.path, browser("")))
			require.NoError(t, err)
			require.EqualValues(t, tt.wantStatus, resp.GetDeniedResponse().GetStatus().GetCode())
			require.NotContains(t, resp.GetDeniedResponse().GetBody(), "<script")
			requirePrivate(t, resp)
		})
	}
	t.Run("store down", func(t *testing.T) {
		down := enginetest.New(t, enginetest.Options{Store: sessiontest.Down{}})
		dc := client(t, down)
		session := browser("authbridge=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
		resp, err := dc.Check(context.Background(), envoyRequest("GET", "/oauth2/sign_out", session))
		require.NoError(t, err)
		require.EqualValues(t, 503, resp.GetDeniedResponse().GetStatus().GetCode())
		requirePrivate(t, resp)
		resp, err = dc.Check(context.Background(), envoyRequest("GET", "/dash", session))
		require.NoError(t, err)
		require.EqualValues(t, 503, resp.GetDeniedResponse().GetStatus().GetCode())
		require.NotContains(t, headerMap(resp.GetDeniedResponse().GetHeaders()), "referrer-policy", "only /oauth2/ answers")
	})
}
