package extauthz_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/pkg/session"
)

const clearSession = "authbridge=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax"

func seedSession(t *testing.T, env *enginetest.Env, subject string) string {
	t.Helper()
	tk, err := session.NewTicket()
	require.NoError(t, err)
	now := env.Clock.Now()
	require.NoError(t, env.Sessions.Save(context.Background(), tk, &session.Session{Subject: subject, AccessToken: subject + "-token",
		Expiry: now.Add(time.Hour), CreatedAt: now, Touched: now}, time.Hour))
	return tk.String()
}

// inHeaderMap moves a request's headers into header_map with raw values, as newer Envoys send them.
func inHeaderMap(req *authv3.CheckRequest) *authv3.CheckRequest {
	h := req.GetAttributes().GetRequest().GetHttp()
	m := &corev3.HeaderMap{}
	for k, v := range h.GetHeaders() {
		m.Headers = append(m.Headers, &corev3.HeaderValue{Key: k, RawValue: []byte(v)})
	}
	h.Headers, h.HeaderMap = nil, m
	return req
}

func fetch(cookie string) map[string]string {
	return map[string]string{"accept": "application/json", "sec-fetch-mode": "cors", "cookie": cookie}
}

// TestCheckCookiesStrict is rule 3 through Check. Envoy joins a browser's Cookie headers with "; ".
func TestCheckCookiesStrict(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{})
	c := client(t, env)
	alice, bob := seedSession(t, env, "alice"), seedSession(t, env, "bob")
	tests := []struct {
		name       string
		req        *authv3.CheckRequest
		wantStatus int  // 200 allowed
		wantClear  bool // the denial deletes the session cookie
	}{
		{"one session", envoyRequest("GET", "/api", fetch("authbridge="+alice)), 200, false},
		{"one session in header_map", inHeaderMap(envoyRequest("GET", "/api", fetch("authbridge="+alice))), 200, false},
		{"review: bob's tossed ahead of alice's", envoyRequest("GET", "/api", fetch("authbridge="+bob+"; authbridge="+alice)), 401, false},
		{"two in header_map", inHeaderMap(envoyRequest("GET", "/api", fetch("authbridge="+bob+"; authbridge="+alice))), 401, false},
		{"comma-folded", envoyRequest("GET", "/api", fetch("authbridge="+alice+", authbridge="+bob)), 401, false},
		{"case variant", envoyRequest("GET", "/api", fetch("Authbridge="+bob+"; authbridge="+alice)), 200, false},
		{"pending login next to the session", envoyRequest("GET", "/api", fetch("authbridge-login-AAAAAAAA="+bob+"; authbridge="+alice)), 200, false},
		{"garbage", envoyRequest("GET", "/api", fetch("authbridge=garbage")), 401, true},
		{"quoted", envoyRequest("GET", "/api", fetch(`authbridge="`+alice+`"`)), 401, true},
		{"unknown ticket", envoyRequest("GET", "/api", fetch("authbridge="+strings.Repeat("A", len(alice)))), 401, true},
		{"NUL in the value", envoyRequest("GET", "/api", fetch("authbridge="+alice+"\x00")), 401, true},
		{"garbage, navigation", envoyRequest("GET", "/dash", browser("authbridge=garbage")), 302, true},
		{"two, navigation", envoyRequest("GET", "/dash", browser("authbridge="+bob+"; authbridge="+alice)), 302, false},
		{"9 KiB cookie", envoyRequest("GET", "/api", fetch("big="+strings.Repeat("x", 9<<10)+"; authbridge="+alice)), 431, false},
		{"5000 small cookies", envoyRequest("GET", "/api", fetch(strings.Repeat("c=1; ", 5000)+"authbridge="+alice)), 431, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := c.Check(context.Background(), tt.req)
			require.NoError(t, err)
			if tt.wantStatus == 200 {
				require.Equal(t, int32(codes.OK), resp.GetStatus().GetCode())
				hs := headerMap(resp.GetOkResponse().GetHeaders())
				require.Equal(t, []string{"Bearer alice-token"}, hs["authorization"])
				require.NotContains(t, hs, "set-cookie", "an allowed answer sets no cookie")
				require.Empty(t, resp.GetOkResponse().GetResponseHeadersToAdd(), "nothing is set on the browser")
				return
			}
			den := resp.GetDeniedResponse()
			require.EqualValues(t, tt.wantStatus, den.GetStatus().GetCode())
			require.NotContains(t, den.GetBody(), alice)
			var cleared []string
			for _, o := range den.GetHeaders() {
				if o.GetHeader().GetKey() == "set-cookie" && strings.HasPrefix(o.GetHeader().GetValue(), "authbridge=") {
					require.Equal(t, corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD, o.GetAppendAction(), "next to the login cookie")
					cleared = append(cleared, o.GetHeader().GetValue())
				}
			}
			if tt.wantClear {
				require.Equal(t, []string{clearSession}, cleared)
			} else {
				require.Empty(t, cleared)
			}
			if tt.wantStatus == http.StatusRequestHeaderFieldsTooLarge {
				require.Equal(t, int32(codes.PermissionDenied), resp.GetStatus().GetCode())
				require.NotContains(t, headerMap(den.GetHeaders()), "set-cookie")
			}
		})
	}
}

// TestCheckSignOutVouched is rule 8 through Check: Envoy asks about /oauth2/sign_out on the app's host.
func TestCheckSignOutVouched(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{})
	c := client(t, env)
	app := "https://" + enginetest.AppHost
	tests := []struct {
		name       string
		method     string
		hdr        map[string]string
		headerMap  bool
		wantStatus int
		wantOut    bool
	}{
		{"typed URL", "GET", map[string]string{"sec-fetch-site": "none"}, false, 302, true},
		{"link on the app", "GET", map[string]string{"sec-fetch-site": "same-origin", "referer": app + "/dash"}, false, 302, true},
		{"link on the app, header_map", "GET", map[string]string{"sec-fetch-site": "same-origin"}, true, 302, true},
		{"cross-site link", "GET", map[string]string{"sec-fetch-site": "cross-site", "referer": "https://evil.test/"}, false, 403, false},
		{"cross-site link, header_map", "GET", map[string]string{"sec-fetch-site": "cross-site"}, true, 403, false},
		{"sibling subdomain", "GET", map[string]string{"sec-fetch-site": "same-site", "referer": "https://evil.example.test/"}, false, 403, false},
		{"no fetch metadata", "GET", map[string]string{}, false, 403, false},
		{"confirmed POST", "POST", map[string]string{"sec-fetch-site": "same-origin", "origin": app}, false, 303, true},
		{"confirmed POST, header_map", "POST", map[string]string{"origin": app}, true, 303, true},
		{"cross-site POST", "POST", map[string]string{"sec-fetch-site": "cross-site", "origin": "https://evil.test"}, false, 403, false},
		{"POST with Origin null", "POST", map[string]string{"origin": "null"}, false, 403, false},
		{"OPTIONS", "OPTIONS", map[string]string{"origin": "https://evil.test"}, false, 405, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			session := loginThroughCheck(t, env, c)
			h := browser(session)
			delete(h, "sec-fetch-site")
			for k, v := range tt.hdr {
				h[k] = v
			}
			req := envoyRequest(tt.method, "/oauth2/sign_out?rd=%2Fbye", h)
			if tt.headerMap {
				req = inHeaderMap(req)
			}
			resp, err := c.Check(context.Background(), req)
			require.NoError(t, err)
			den := resp.GetDeniedResponse()
			require.EqualValues(t, tt.wantStatus, den.GetStatus().GetCode(), den.GetBody())
			hs := headerMap(den.GetHeaders())
			require.Equal(t, []string{"no-store"}, hs["cache-control"])
			if tt.wantOut {
				require.True(t, strings.HasPrefix(hs["location"][0], env.IDPURL+"oidc/logout?"))
				require.Equal(t, []string{clearSession}, hs["set-cookie"])
			} else {
				require.NotContains(t, hs, "set-cookie")
				require.NotContains(t, hs, "location")
			}
			if tt.wantStatus == http.StatusForbidden && tt.method == "GET" {
				require.Equal(t, []string{"text/html; charset=utf-8"}, hs["content-type"])
				require.Contains(t, den.GetBody(), `<form method="post" action="/oauth2/sign_out?rd=%2Fbye">`)
			}
			after, err := c.Check(context.Background(), envoyRequest("GET", "/api", fetch(session)))
			require.NoError(t, err)
			require.Equal(t, !tt.wantOut, after.GetOkResponse() != nil, "the session lives unless signed out")
		})
	}
}
