package extauthz_test

import (
	"context"
	"net/http"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/pkg/authz"
	"github.com/authbridge/authbridge/pkg/extauthz"
)

// TestBearerThroughCheck: an API client's bearer JWT through Envoy's Check: allowed with the same
// authorization overwritten onto the upstream request (so it is the client's, unchanged) and the
// token's identity; refused in band with the RFC 6750 challenge; the header read in any spelling and
// from both encodings, and two differing values refused (400) before the engine is asked; the issuer's
// keys unreachable → UNAVAILABLE 503.
func TestBearerThroughCheck(t *testing.T) {
	policy := authz.Policy{Routes: []authz.Route{{Name: "admin", Path: "/admin", Require: authz.Rule{Groups: []string{"admin"}}}}}
	env := enginetest.New(t, enginetest.Options{Bearer: true, Engine: authz.Options{Policy: policy}})
	c := client(t, env)
	ctx := context.Background()
	alice, err := env.IDP.AccessToken(enginetest.ClientID, "alice", "openid")
	require.NoError(t, err)
	bob, err := env.IDP.AccessToken(enginetest.ClientID, "bob", "openid")
	require.NoError(t, err)
	api := func(k, v string) map[string]string { return map[string]string{"accept": "application/json", k: v} }

	for _, k := range []string{"authorization", "Authorization"} {
		resp, err := c.Check(ctx, envoyRequest("GET", "/api/items", api(k, "Bearer "+alice)))
		require.NoError(t, err)
		require.Equal(t, int32(codes.OK), resp.GetStatus().GetCode(), k)
		hs := headerMap(resp.GetOkResponse().GetHeaders())
		require.Equal(t, []string{"Bearer " + alice}, hs["authorization"])
		require.Equal(t, []string{"auth0|alice"}, hs["x-auth-request-user"])
		require.NotContains(t, resp.GetOkResponse().GetHeadersToRemove(), k, "set, not removed")
	}

	tests := []struct {
		name, path, authorization string
		wantStatus                int
		wantCode                  codes.Code
		wantChallenge             string
	}{
		{"opaque", "/api/items", "Bearer 8xLOxBtZp8", 401, codes.Unauthenticated,
			`Bearer realm="authbridge", error="invalid_token", error_description="The token is not a signed JWT"`},
		{"group missing", "/admin/x", "Bearer " + bob, 403, codes.PermissionDenied, `Bearer realm="authbridge", error="insufficient_scope"`},
		{"malformed", "/api/items", "Bearer  " + bob, 400, codes.PermissionDenied,
			`Bearer realm="authbridge", error="invalid_request", error_description="The Authorization header is not one well-formed bearer token"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := browser("") // a navigation: still no redirect
			h["authorization"] = tt.authorization
			resp, err := c.Check(ctx, envoyRequest("GET", tt.path, h))
			require.NoError(t, err)
			require.Equal(t, int32(tt.wantCode), resp.GetStatus().GetCode())
			den := resp.GetDeniedResponse()
			require.EqualValues(t, tt.wantStatus, den.GetStatus().GetCode())
			hs := headerMap(den.GetHeaders())
			require.Equal(t, []string{tt.wantChallenge}, hs["www-authenticate"])
			require.Empty(t, hs["location"])
		})
	}

	// The header in both encodings with different values: 400, the engine never asked.
	req := envoyRequest("GET", "/api/items", api("authorization", "Bearer "+alice))
	req.Attributes.Request.Http.HeaderMap = &corev3.HeaderMap{Headers: []*corev3.HeaderValue{{Key: "Authorization", RawValue: []byte("Bearer " + bob)}}}
	resp, err := c.Check(ctx, req)
	require.NoError(t, err)
	require.Equal(t, int32(codes.InvalidArgument), resp.GetStatus().GetCode())
	require.EqualValues(t, http.StatusBadRequest, resp.GetDeniedResponse().GetStatus().GetCode())
	require.Contains(t, resp.GetDeniedResponse().GetBody(), "authorization appears twice with different values")
	require.NotContains(t, resp.GetDeniedResponse().GetBody(), bob)
	// The same value twice is one header.
	req.Attributes.Request.Http.HeaderMap.Headers[0].RawValue = []byte("Bearer " + alice)
	resp, err = c.Check(ctx, req)
	require.NoError(t, err)
	require.Equal(t, int32(codes.OK), resp.GetStatus().GetCode())

	// Keys unreachable before the first token: in-band UNAVAILABLE, never a gRPC error or an allow.
	down := enginetest.New(t, enginetest.Options{Bearer: true})
	down.IDP.SetKeysDown(true)
	tok, err := down.IDP.AccessToken(enginetest.ClientID, "alice", "openid")
	require.NoError(t, err)
	resp, err = extauthz.New(down.Engine, nil).Check(ctx, envoyRequest("GET", "/api/items", api("authorization", "Bearer "+tok)))
	require.NoError(t, err)
	require.Equal(t, int32(codes.Unavailable), resp.GetStatus().GetCode())
	require.EqualValues(t, http.StatusServiceUnavailable, resp.GetDeniedResponse().GetStatus().GetCode())
}
