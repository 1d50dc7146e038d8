package gateway

import (
	"net/http"
	"net/http/httptest"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func hv(k, v string, action corev3.HeaderValueOption_HeaderAppendAction) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: k, Value: v}, AppendAction: action}
}

func hvAppend(k, v string, app bool) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: k, Value: v}, Append: wrapperspb.Bool(app)}
}

const (
	overwriteOrAdd = corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD
	appendOrAdd    = corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD
	addIfAbsent    = corev3.HeaderValueOption_ADD_IF_ABSENT
	overwriteIfExs = corev3.HeaderValueOption_OVERWRITE_IF_EXISTS
)

func TestApplyOK(t *testing.T) {
	tests := []struct {
		name       string
		header     http.Header
		target     string
		ok         *authv3.OkHttpResponse
		wantHeader http.Header
		wantHost   string
		wantURI    string
		wantResp   http.Header // response edits applied to an upstream response with "Server: up"
	}{
		{
			name:   "authbridge allow: identity headers replace the client's, cookie rewritten, spoofs removed",
			header: http.Header{"Authorization": {"Bearer forged"}, "Cookie": {"authbridge=t; theme=dark"}, "X-Auth-Request-User": {"mallory"}, "X_auth_request_email": {"m@evil"}},
			ok: &authv3.OkHttpResponse{
				Headers: []*corev3.HeaderValueOption{
					hv("authorization", "Bearer real", overwriteOrAdd),
					hv("x-auth-request-email", "alice@example.com", overwriteOrAdd),
					hv("x-auth-request-user", "auth0|alice", overwriteOrAdd),
					hv("cookie", "theme=dark", overwriteOrAdd),
				},
				HeadersToRemove: []string{"x_auth_request_email"},
			},
			wantHeader: http.Header{"Authorization": {"Bearer real"}, "Cookie": {"theme=dark"}, "X-Auth-Request-User": {"auth0|alice"}, "X-Auth-Request-Email": {"alice@example.com"}},
		},
		{
			name:   "append_action is ignored for request headers, as in Envoy 1.3x: unset append means set",
			header: http.Header{"X-Tag": {"client"}},
			ok: &authv3.OkHttpResponse{Headers: []*corev3.HeaderValueOption{
				hv("x-tag", "a", appendOrAdd), hv("x-tag", "b", appendOrAdd), hv("x-new", "n", addIfAbsent),
			}},
			wantHeader: http.Header{"X-Tag": {"b"}, "X-New": {"n"}},
		},
		{
			name:   "append true joins with a comma, and only onto a present header",
			header: http.Header{"X-List": {"one"}},
			ok: &authv3.OkHttpResponse{Headers: []*corev3.HeaderValueOption{
				hvAppend("x-list", "two", true), hvAppend("x-absent", "x", true), hvAppend("x-set", "s", false),
			}},
			wantHeader: http.Header{"X-List": {"one,two"}, "X-Set": {"s"}},
		},
		{
			name:       "pseudo-headers and host cannot be removed; cookie removal drops the header",
			header:     http.Header{"Cookie": {"authbridge=t"}, "X-Keep": {"k"}},
			ok:         &authv3.OkHttpResponse{HeadersToRemove: []string{":path", "host", ":authority", "cookie"}},
			wantHeader: http.Header{"X-Keep": {"k"}},
			wantHost:   "app.example.test",
			wantURI:    "/p?b=2&a=1",
		},
		{
			name:   ":authority can be set and query parameters are edited raw, sorted by name",
			header: http.Header{},
			ok: &authv3.OkHttpResponse{
				Headers:                 []*corev3.HeaderValueOption{hv(":authority", "other.example.test", overwriteOrAdd)},
				QueryParametersToSet:    []*corev3.QueryParameter{{Key: "c", Value: "x%20y"}},
				QueryParametersToRemove: []string{"b"},
			},
			wantHeader: http.Header{},
			wantHost:   "other.example.test",
			wantURI:    "/p?a=1&c=x%20y",
		},
		{
			name:   "response headers honour append_action when append is unset",
			header: http.Header{},
			ok: &authv3.OkHttpResponse{ResponseHeadersToAdd: []*corev3.HeaderValueOption{
				hv("x-added", "1", appendOrAdd), hv("x-added", "2", appendOrAdd),
				hv("server", "authz", addIfAbsent), hv("x-gone", "no", overwriteIfExs),
				hv("server", "edge", overwriteOrAdd), hvAppend("x-legacy", "l", false),
			}},
			wantHeader: http.Header{},
			wantResp:   http.Header{"Server": {"edge"}, "X-Added": {"1", "2"}, "X-Legacy": {"l"}},
		},
		{
			name:       "nil ok changes nothing",
			header:     http.Header{"A": {"b"}},
			wantHeader: http.Header{"A": {"b"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "http://app.example.test/p?b=2&a=1", nil)
			r.Header = tt.header
			edits := ApplyOK(r, tt.ok)
			require.Equal(t, tt.wantHeader, r.Header)
			if tt.wantHost != "" {
				require.Equal(t, tt.wantHost, r.Host)
			}
			if tt.wantURI != "" {
				require.Equal(t, tt.wantURI, r.URL.RequestURI())
			}
			resp := http.Header{"Server": {"up"}}
			edits.Apply(resp)
			if tt.wantResp == nil {
				tt.wantResp = http.Header{"Server": {"up"}}
			}
			require.Equal(t, tt.wantResp, resp)
		})
	}
}

func TestWriteDenied(t *testing.T) {
	tests := []struct {
		name       string
		denied     *authv3.DeniedHttpResponse
		wantStatus int
		wantHeader http.Header
		wantBody   string
	}{
		{
			name: "login redirect keeps every set-cookie",
			denied: &authv3.DeniedHttpResponse{
				Status: &typev3.HttpStatus{Code: typev3.StatusCode_Found},
				Headers: []*corev3.HeaderValueOption{
					hv("location", "http://idp.example.test/authorize?state=s", overwriteOrAdd),
					hv("cache-control", "no-store", overwriteOrAdd),
					hv("set-cookie", "authbridge-login=b; Path=/; HttpOnly", appendOrAdd),
					hv("set-cookie", "authbridge=; Path=/; Max-Age=0", appendOrAdd),
				},
			},
			wantStatus: http.StatusFound,
			wantHeader: http.Header{
				"Location":      {"http://idp.example.test/authorize?state=s"},
				"Cache-Control": {"no-store"},
				"Set-Cookie":    {"authbridge-login=b; Path=/; HttpOnly", "authbridge=; Path=/; Max-Age=0"},
			},
		},
		{
			name: "401 json: the server's content type replaces Envoy's text/plain",
			denied: &authv3.DeniedHttpResponse{
				Status:  &typev3.HttpStatus{Code: typev3.StatusCode_Unauthorized},
				Headers: []*corev3.HeaderValueOption{hv("content-type", "application/json", overwriteOrAdd), hv("www-authenticate", `Bearer realm="authbridge"`, overwriteOrAdd)},
				Body:    `{"error":"unauthenticated"}`,
			},
			wantStatus: http.StatusUnauthorized,
			wantHeader: http.Header{"Content-Type": {"application/json"}, "Www-Authenticate": {`Bearer realm="authbridge"`}},
			wantBody:   `{"error":"unauthenticated"}`,
		},
		{
			name:       "no status means 403, a body gets text/plain, append headers are dropped",
			denied:     &authv3.DeniedHttpResponse{Body: "no", Headers: []*corev3.HeaderValueOption{hvAppend("x-dropped", "d", true)}},
			wantStatus: http.StatusForbidden,
			wantHeader: http.Header{"Content-Type": {"text/plain"}},
			wantBody:   "no",
		},
		{
			name:       "nil denied response is a bare 403",
			wantStatus: http.StatusForbidden,
			wantHeader: http.Header{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			WriteDenied(w, tt.denied)
			require.Equal(t, tt.wantStatus, w.Code)
			require.Equal(t, tt.wantHeader, w.Header())
			require.Equal(t, tt.wantBody, w.Body.String())
		})
	}
}
