package forwardauth_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/enginetest"
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
