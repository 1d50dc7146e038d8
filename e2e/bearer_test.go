package e2e_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// apiAudience is the API identifier the API client's tokens are issued for, and bearer.audiences.
const apiAudience = "https://api.e2e.test"

// clientCredentialsToken registers a machine client at Hydra that may ask for apiAudience and returns
// its id and a JWT access token from the client_credentials grant.
func clientCredentialsToken(t *testing.T, h *hydra) (string, string) {
	t.Helper()
	var c struct {
		ClientID string `json:"client_id"`
	}
	const secret = "api-client-secret-0123456789abcdef"
	require.NoError(t, h.call(http.MethodPost, "/admin/clients", map[string]any{
		"client_secret": secret, "grant_types": []string{"client_credentials"}, "response_types": []string{"token"},
		"audience": []string{apiAudience}, "scope": "read:items", "token_endpoint_auth_method": "client_secret_basic",
	}, &c))
	req, err := http.NewRequest(http.MethodPost, h.issuer+"/oauth2/token", strings.NewReader(url.Values{
		"grant_type": {"client_credentials"}, "audience": {apiAudience}, "scope": {"read:items"},
	}.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.ClientID), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, 3, strings.Count(tok.AccessToken, ".")+1, "Hydra issues JWT access tokens here")
	return c.ClientID, tok.AccessToken
}

// TestCaddyBearerAPIClient: an API client with a Hydra-issued access token (client_credentials, JWT)
// calls an app behind real Caddy, with bearer.audiences set: no cookie, no login; the upstream gets the
// client's own Authorization unchanged and the client as X-Auth-Request-User. A refused token is 401 with
// the RFC 6750 challenge, a route it does not satisfy 403 insufficient_scope, never a redirect.
func TestCaddyBearerAPIClient(t *testing.T) {
	t.Parallel()
	s := sharedStack(t)
	up := startUpstream(t)
	port, err := freePort()
	require.NoError(t, err)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	ab := startAuthbridge(t, s, base, fmt.Sprintf("bearer:\n  audiences: [%s]\n", apiAudience),
		"policy:\n  routes:\n    - path: /admin\n      emails: [alice@example.com]\n")
	startCaddy(t, port, ab.forwardAuth, up.addr)
	clientID, token := clientCredentialsToken(t, s.hydra)

	call := func(uri, authorization string) *http.Response {
		req, err := http.NewRequest(http.MethodGet, base+uri, nil)
		require.NoError(t, err)
		req.Header.Set("Accept", "text/html") // like a navigation: still never a redirect
		req.Header.Set("Authorization", authorization)
		resp, err := noRedirects.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}

	resp := call("/api/items?x=1", "Bearer "+token)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	got, ok := up.last("/api/items?x=1")
	require.True(t, ok)
	require.Equal(t, []string{"Bearer " + token}, got.Header.Values("Authorization"), "the client's own token, unchanged")
	require.Equal(t, []string{clientID}, got.Header.Values("X-Auth-Request-User"))

	resp = call("/api/items?x=2", "Bearer "+token[:len(token)-4]+"AAAA")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, `Bearer realm="authbridge", error="invalid_token", error_description="The token's signature does not verify"`,
		resp.Header.Get("WWW-Authenticate"))
	_, reached := up.last("/api/items?x=2")
	require.False(t, reached)

	resp = call("/admin/x", "Bearer "+token)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Equal(t, `Bearer realm="authbridge", error="insufficient_scope"`, resp.Header.Get("WWW-Authenticate"))
	require.Empty(t, resp.Header.Get("Location"))
	require.NotContains(t, ab.proc.log(), token[strings.LastIndexByte(token, '.')+1:], "no log line holds the token")
}
