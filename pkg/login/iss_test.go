package login_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/pkg/login"
)

// TestIssParameterRequired: only the JSON boolean true in discovery makes the iss parameter (RFC 9207)
// required; Issuer is the configured issuer, byte for byte.
func TestIssParameterRequired(t *testing.T) {
	tests := []struct {
		name  string
		value any // nil: the member is absent
		want  bool
	}{
		{"true", true, true},
		{"false", false, false},
		{"absent", nil, false},
		{"string true", "true", false},
		{"number", 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var srv *httptest.Server
			srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				doc := map[string]any{"issuer": srv.URL + "/", "authorization_endpoint": srv.URL + "/authorize",
					"token_endpoint": srv.URL + "/token", "jwks_uri": srv.URL + "/jwks"}
				if tt.value != nil {
					doc["authorization_response_iss_parameter_supported"] = tt.value
				}
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(doc)
			}))
			t.Cleanup(srv.Close)
			p, err := login.New(context.Background(), login.Config{IssuerURL: srv.URL + "/", ClientID: "c",
				RedirectURL: "https://app.test/oauth2/callback", Scopes: []string{"openid"}}, srv.Client())
			require.NoError(t, err)
			require.Equal(t, tt.want, p.IssParameterRequired())
			require.Equal(t, srv.URL+"/", p.Issuer())
		})
	}
}
