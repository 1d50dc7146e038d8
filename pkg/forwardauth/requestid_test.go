package forwardauth_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/pkg/authz"
)

// TestRequestIDAnswered: a gateway that sends no usable X-Request-Id (Traefik, by default) gets the one
// authbridge made for its decision log in the answer, allowed or not; one that sends it gets nothing
// back.
func TestRequestIDAnswered(t *testing.T) {
	env, h := front(t, enginetest.Options{})
	cookie, _ := login(t, env, h, "/")
	for _, tc := range []struct {
		name, id, cookie string
		status           int
		answered         bool
	}{
		{"refused, gateway's id", "f3c2a1b0e9d8c7b6a5f4e3d2c1b0a9f8", "", http.StatusUnauthorized, false},
		{"refused, no id", "", "", http.StatusUnauthorized, true},
		{"refused, forged log field", `x" level=ERROR`, "", http.StatusUnauthorized, true},
		{"allowed, gateway's id", "f3c2a1b0e9d8c7b6a5f4e3d2c1b0a9f8", cookie, http.StatusOK, false},
		{"allowed, no id", "", cookie, http.StatusOK, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := traefik("GET", "/api", xhr(tc.cookie))
			if tc.id != "" {
				r.Header.Set(authz.HeaderRequestID, tc.id)
			}
			rec := serve(h, r)
			require.Equal(t, tc.status, rec.Code)
			got := rec.Header().Values(authz.HeaderRequestID)
			if !tc.answered {
				require.Empty(t, got)
				return
			}
			require.Len(t, got, 1)
			require.Regexp(t, "^[0-9a-f]{32}$", got[0])
		})
	}
}
