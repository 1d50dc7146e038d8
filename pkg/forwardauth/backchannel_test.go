package forwardauth_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc/oidctest"
	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/enginetest"
	oidclogin "github.com/authbridge/authbridge/pkg/login"
)

func TestBackchannelEndpoint(t *testing.T) {
	env, h := front(t, enginetest.Options{})
	cookie, _ := login(t, env, h, "/")
	authz := func() int {
		return serve(h, traefik("GET", "/", xhr(cookie))).Code
	}
	require.Equal(t, http.StatusOK, authz())
	valid, err := env.IDP.LogoutToken(enginetest.ClientID, enginetest.Alice.Subject, "")
	require.NoError(t, err)
	wrongAud, err := env.IDP.LogoutToken("someone-else", enginetest.Alice.Subject, "")
	require.NoError(t, err)
	post := func(form url.Values) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/oauth2/backchannel_logout", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return serve(h, r)
	}
	tests := []struct {
		name     string
		req      func() *httptest.ResponseRecorder
		wantCode int
		wantLive bool // the session still works afterwards
	}{
		{"GET is not allowed", func() *httptest.ResponseRecorder {
			return serve(h, httptest.NewRequest("GET", "/oauth2/backchannel_logout", nil))
		}, http.StatusMethodNotAllowed, true},
		{"no token", func() *httptest.ResponseRecorder { return post(url.Values{}) }, http.StatusBadRequest, true},
		{"garbage", func() *httptest.ResponseRecorder { return post(url.Values{"logout_token": {"x.y.z"}}) }, http.StatusBadRequest, true},
		{"wrong audience", func() *httptest.ResponseRecorder { return post(url.Values{"logout_token": {wrongAud}}) }, http.StatusBadRequest, true},
		{"valid", func() *httptest.ResponseRecorder { return post(url.Values{"logout_token": {valid}}) }, http.StatusOK, false},
		{"replayed", func() *httptest.ResponseRecorder { return post(url.Values{"logout_token": {valid}}) }, http.StatusBadRequest, false},
	}
	for _, tt := range tests { // in order: each case sees the state the one before left
		rec := tt.req()
		require.Equal(t, tt.wantCode, rec.Code, tt.name+": "+rec.Body.String())
		require.Equal(t, "no-store", rec.Header().Get("Cache-Control"), tt.name)
		if tt.wantCode == http.StatusBadRequest {
			require.Equal(t, "application/json", rec.Header().Get("Content-Type"), tt.name)
			require.Contains(t, rec.Body.String(), `"error":"invalid_request"`, tt.name)
		}
		require.Equal(t, tt.wantLive, authz() == http.StatusOK, tt.name)
	}
}

// TestBackchannelHostileTokens: logout tokens in the wrong shape are 400 on the wire and end nothing;
// when the provider's keys cannot be fetched the answer is 503, so the provider retries.
func TestBackchannelHostileTokens(t *testing.T) {
	env, h := front(t, enginetest.Options{})
	cookie, _ := login(t, env, h, "/")
	valid, err := env.IDP.LogoutToken(enginetest.ClientID, enginetest.Alice.Subject, "")
	require.NoError(t, err)
	parts := strings.Split(valid, ".")
	b64 := base64.RawURLEncoding.EncodeToString
	forger, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	post := func(token string) int {
		r := httptest.NewRequest("POST", "/oauth2/backchannel_logout", strings.NewReader(url.Values{"logout_token": {token}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return serve(h, r).Code
	}
	alive := func() bool { return serve(h, traefik("GET", "/api", xhr(cookie))).Code == http.StatusOK }
	tests := []struct {
		name     string
		token    string
		wantCode int
	}{
		{"alg none", b64([]byte(`{"alg":"none"}`)) + "." + parts[1] + ".", http.StatusBadRequest},
		{"JWS JSON serialization", `{"protected":"` + parts[0] + `","payload":"` + parts[1] + `","signature":"` + parts[2] + `"}`, http.StatusBadRequest},
		{"5 parts", valid + ".e30.e30", http.StatusBadRequest},
		{"over 16 KiB", parts[0] + "." + parts[1] + strings.Repeat("A", 16<<10) + "." + parts[2], http.StatusBadRequest},
		{"unknown kid", oidctest.SignIDToken(forger, "kid-forged", "RS256", string(payload)), http.StatusBadRequest},
	}
	for _, tt := range tests {
		require.Equal(t, tt.wantCode, post(tt.token), tt.name)
		require.True(t, alive(), tt.name)
	}
	env.Clock.Advance(oidclogin.KeyRefetchInterval)
	env.IDP.SetKeysDown(true)
	require.Equal(t, http.StatusServiceUnavailable, post(oidctest.SignIDToken(forger, "kid-rotated", "RS256", string(payload))), "keys unreachable")
	require.True(t, alive())
}
