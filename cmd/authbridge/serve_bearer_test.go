package main

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestServeBearer: serve hands the verifier built from bearer.audiences to the engine. Without the key
// an API client's token is no credential (401 with the session path's bare challenge); with it, the
// token is verified and the upstream gets it back unchanged.
func TestServeBearer(t *testing.T) {
	tests := []struct {
		name          string
		env           []string
		wantStatus    int
		wantChallenge string
	}{
		{"off without bearer.audiences", nil, http.StatusUnauthorized, `Bearer realm="authbridge"`},
		{"on with bearer.audiences", []string{"AUTHBRIDGE_BEARER_AUDIENCES=https://api.test"}, http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inst := start(t, time.Hour, tt.env...)
			tok, err := inst.idp.AccessToken("app", "alice", "openid")
			require.NoError(t, err)
			req, _ := http.NewRequest("GET", inst.forwardAuth+"/auth", nil)
			req.Header.Set("X-Forwarded-Method", "GET")
			req.Header.Set("X-Forwarded-Proto", "https")
			req.Header.Set("X-Forwarded-Host", "app.test")
			req.Header.Set("X-Forwarded-Uri", "/api")
			req.Header.Set("Accept", "application/json")
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			require.Equal(t, tt.wantStatus, resp.StatusCode)
			require.Equal(t, tt.wantChallenge, resp.Header.Get("WWW-Authenticate"))
			if resp.StatusCode == http.StatusOK {
				require.Equal(t, "Bearer "+tok, resp.Header.Get("Authorization"))
			}
			require.NotContains(t, inst.logs.String(), tok)
		})
	}
}
