package devidp_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/authbridge/authbridge/pkg/devidp"
)

// TestIssParameter: with Options.IssParameter the provider follows RFC 9207 (discovery says so, and both
// code and error responses carry iss); without it, as Auth0, neither.
func TestIssParameter(t *testing.T) {
	for _, on := range []bool{false, true} {
		t.Run(map[bool]string{false: "off", true: "on"}[on], func(t *testing.T) {
			f := newFixture(t, func(o *devidp.Options) { o.IssParameter = on })
			resp := get(t, http.DefaultClient, f.issuer+".well-known/openid-configuration")
			var doc map[string]any
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&doc))
			if on {
				require.Equal(t, true, doc["authorization_response_iss_parameter_supported"])
			} else {
				require.NotContains(t, doc, "authorization_response_iss_parameter_supported")
			}
			want := map[bool][]string{false: nil, true: {f.issuer}}[on]
			for name, opts := range map[string][]oauth2.AuthCodeOption{
				"code":  nil,
				"error": {oauth2.SetAuthURLParam("audience", "https://other.example")},
			} {
				resp, _ := f.start(t, newBrowser(t), opts...)
				require.Equal(t, http.StatusFound, resp.StatusCode, name)
				loc, err := url.Parse(resp.Header.Get("Location"))
				require.NoError(t, err)
				require.NotEmpty(t, loc.Query().Get(name), "a %s response", name)
				require.Equal(t, want, loc.Query()["iss"], name)
			}
		})
	}
}
