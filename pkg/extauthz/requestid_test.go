package extauthz_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
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

// TestCheckConflictingLabels: a request id or trace context that comes twice with different values (W3C
// lets tracestate be split over several header lines) only labels the decision, so it is dropped — a new
// id is made and answered — and never turns the request into a 400; a conflicting header that decides
// (authorization) still does.
func TestCheckConflictingLabels(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{})
	c := client(t, env)
	for _, tc := range []struct {
		name, key, a, b string
		status          int
	}{
		{"two request ids", "x-request-id", "6b1f0b3e-3c7e-4a55-9d7c-2c4c8f0f3d11", "attacker-chosen", http.StatusUnauthorized},
		{"two traceparents", "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "00-11111111111111111111111111111111-2222222222222222-01", http.StatusUnauthorized},
		{"tracestate split over two lines", "tracestate", "vendor1=a", "vendor2=b", http.StatusUnauthorized},
		{"two authorizations still refused", "authorization", "Bearer a", "Bearer b", http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := envoyRequest("GET", "/api", map[string]string{"accept": "application/json", tc.key: tc.a})
			req.Attributes.Request.Http.HeaderMap = &corev3.HeaderMap{Headers: []*corev3.HeaderValue{{Key: tc.key, RawValue: []byte(tc.b)}}}
			resp, err := c.Check(context.Background(), req)
			require.NoError(t, err)
			require.EqualValues(t, tc.status, resp.GetDeniedResponse().GetStatus().GetCode())
			if tc.key == "x-request-id" {
				hs := headerMap(resp.GetDeniedResponse().GetHeaders())
				require.Len(t, hs["x-request-id"], 1, "a new id is made and answered")
				require.Regexp(t, "^[0-9a-f]{32}$", hs["x-request-id"][0])
			}
		})
	}
}
