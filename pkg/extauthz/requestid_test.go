package extauthz_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/enginetest"
)

// TestCheckRequestID: when Envoy sends no usable x-request-id, Check makes one up for the decision log
// and hands it back: to the client on a denial, to the upstream on an allow. Envoy's own id is never
// answered back (Envoy has it already).
func TestCheckRequestID(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{})
	c := client(t, env)
	cookie := loginThroughCheck(t, env, c)
	for _, tc := range []struct {
		name, id, cookie  string
		allowed, answered bool
	}{
		{"denied, Envoy's id", "6b1f0b3e-3c7e-4a55-9d7c-2c4c8f0f3d11", "", false, false},
		{"denied, no id", "", "", false, true},
		{"denied, id with a line break", "a\nb", "", false, true},
		{"allowed, Envoy's id", "6b1f0b3e-3c7e-4a55-9d7c-2c4c8f0f3d11", cookie, true, false},
		{"allowed, no id", "", cookie, true, true},
		{"allowed, id too long", strings.Repeat("9", 65), cookie, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := envoyRequest("GET", "/api", map[string]string{"accept": "application/json", "x-request-id": tc.id})
			if tc.cookie != "" {
				req.Attributes.Request.Http.Headers["cookie"] = tc.cookie
			}
			resp, err := c.Check(context.Background(), req)
			require.NoError(t, err)
			var hs map[string][]string
			if tc.allowed {
				require.NotNil(t, resp.GetOkResponse())
				hs = headerMap(resp.GetOkResponse().GetHeaders())
			} else {
				require.EqualValues(t, http.StatusUnauthorized, resp.GetDeniedResponse().GetStatus().GetCode())
				hs = headerMap(resp.GetDeniedResponse().GetHeaders())
			}
			if !tc.answered {
				require.NotContains(t, hs, "x-request-id")
				return
			}
			require.Len(t, hs["x-request-id"], 1)
			require.Regexp(t, "^[0-9a-f]{32}$", hs["x-request-id"][0])
		})
	}
}
