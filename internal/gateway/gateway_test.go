package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/stretchr/testify/require"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// upstream answers with the headers it received, as JSON, plus the Host and request URI.
func upstream(t *testing.T) *url.URL {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Clone()
		h.Set("Seen-Host", r.Host)
		h.Set("Seen-Uri", r.RequestURI)
		w.Header().Set("Server", "upstream")
		_ = json.NewEncoder(w).Encode(h)
	}))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	return u
}

func seen(t *testing.T, resp *http.Response) http.Header {
	t.Helper()
	var h http.Header
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&h))
	return h
}

// fakeAuthz answers Check by path, and remembers the last request.
type fakeAuthz struct {
	authv3.UnimplementedAuthorizationServer
	mu   sync.Mutex
	last *authv3.CheckRequest
}

func (f *fakeAuthz) Check(_ context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	f.mu.Lock()
	f.last = req
	f.mu.Unlock()
	switch req.GetAttributes().GetRequest().GetHttp().GetPath() {
	case "/down":
		return nil, status.Error(codes.Unavailable, "down")
	case "/login":
		return &authv3.CheckResponse{
			Status: &rpcstatus.Status{Code: int32(codes.Unauthenticated)},
			HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
				Status: &typev3.HttpStatus{Code: typev3.StatusCode_Found},
				Headers: []*corev3.HeaderValueOption{
					hv("location", "http://idp.test/authorize", overwriteOrAdd),
					hv("set-cookie", "a=1", appendOrAdd), hv("set-cookie", "b=2", appendOrAdd),
				},
			}},
		}, nil
	}
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(codes.OK)},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
			Headers:              []*corev3.HeaderValueOption{hv("authorization", "Bearer real", overwriteOrAdd)},
			HeadersToRemove:      []string{"cookie"},
			ResponseHeadersToAdd: []*corev3.HeaderValueOption{hv("x-checked", "yes", overwriteOrAdd)},
		}},
	}, nil
}

func (f *fakeAuthz) lastRequest() *authv3.CheckRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

func startAuthz(t *testing.T, f *fakeAuthz) authv3.AuthorizationClient {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer()
	authv3.RegisterAuthorizationServer(srv, f)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return authv3.NewAuthorizationClient(conn)
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func TestEnvoyGateway(t *testing.T) {
	f := &fakeAuthz{}
	up := upstream(t)
	tests := []struct {
		name          string
		path          string
		failOpen      bool
		wantStatus    int
		wantHeader    http.Header // must be on the client's response
		wantUpstream  http.Header // must be what the upstream saw
		wantNoUpHeads []string    // must not reach the upstream
	}{
		{
			name: "allowed request is mutated and proxied", path: "/page?x=1", wantStatus: 200,
			wantHeader:    http.Header{"X-Checked": {"yes"}, "Server": {"upstream"}},
			wantUpstream:  http.Header{"Authorization": {"Bearer real"}, "X-Forwarded-Proto": {"http"}, "X-Envoy-Internal": {"true"}, "Seen-Uri": {"/page?x=1"}},
			wantNoUpHeads: []string{"Cookie"},
		},
		{
			name: "denied login redirect reaches the browser with both cookies", path: "/login", wantStatus: http.StatusFound,
			wantHeader: http.Header{"Location": {"http://idp.test/authorize"}, "Set-Cookie": {"a=1", "b=2"}},
		},
		{name: "check failure fails closed with 403", path: "/down", wantStatus: http.StatusForbidden},
		{
			name: "check failure with failure_mode_allow goes upstream unmodified", path: "/down", failOpen: true, wantStatus: 200,
			wantUpstream: http.Header{"Authorization": {"Bearer forged"}, "X-Envoy-Auth-Failure-Mode-Allowed": {"true"}},
		},
	}
	client := startAuthz(t, f)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gw, err := NewEnvoy(EnvoyOptions{Upstream: up, Client: client, FailureModeAllow: tt.failOpen})
			require.NoError(t, err)
			srv := httptest.NewServer(gw)
			defer srv.Close()
			req, err := http.NewRequest("GET", srv.URL+tt.path, nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer forged")
			req.Header.Set("Cookie", "authbridge=secret")
			resp, err := noRedirect.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, tt.wantStatus, resp.StatusCode)
			for k, v := range tt.wantHeader {
				require.Equal(t, v, resp.Header.Values(k), k)
			}
			if tt.wantUpstream != nil {
				got := seen(t, resp)
				for k, v := range tt.wantUpstream {
					require.Equal(t, v, got.Values(k), k)
				}
				for _, k := range tt.wantNoUpHeads {
					require.Empty(t, got.Values(k), k)
				}
			}
			hs := f.lastRequest().GetAttributes().GetRequest().GetHttp().GetHeaders()
			require.Equal(t, "authbridge=secret", hs["cookie"], "the check sees the client's cookie")
			require.Equal(t, strings.TrimPrefix(srv.URL, "http://"), hs[":authority"])
		})
	}
}

func TestForwardAuthRequest(t *testing.T) {
	r := httptest.NewRequest("POST", "/api/items?id=7", strings.NewReader("body"))
	r.Host = "app.example.test:8080"
	r.RemoteAddr = "192.0.2.9:5555"
	r.Header = http.Header{"Cookie": {"authbridge=x"}, "Accept": {"application/json"}, "Connection": {"close"}, "X-Forwarded-Uri": {"/spoof"}}
	fr, err := forwardAuthRequest(context.Background(), r, "http://127.0.0.1:4180/auth")
	require.NoError(t, err)
	require.Equal(t, "GET", fr.Method)
	require.Nil(t, fr.Body)
	require.Equal(t, "http://127.0.0.1:4180/auth", fr.URL.String())
	require.Equal(t, http.Header{
		"Cookie": {"authbridge=x"}, "Accept": {"application/json"},
		"X-Forwarded-For": {"192.0.2.9"}, "X-Forwarded-Method": {"POST"}, "X-Forwarded-Proto": {"http"},
		"X-Forwarded-Host": {"app.example.test:8080"}, "X-Forwarded-Uri": {"/api/items?id=7"},
	}, fr.Header)
}

func TestForwardAuthGateway(t *testing.T) {
	auth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("X-Forwarded-Uri") {
		case "/login":
			w.Header().Add("Set-Cookie", "a=1")
			w.Header().Add("Set-Cookie", "b=2")
			w.Header().Set("Location", "/oauth2/start?rd=%2Flogin") // relative: resolved against the auth URL
			w.WriteHeader(http.StatusFound)
		case "/api":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":"unauthenticated"}`)
		default:
			w.Header().Set("Authorization", "Bearer real")
			w.Header().Set("X-Auth-Request-User", "auth0|alice")
			w.Header().Set("X-Not-Copied", "x")
		}
	}))
	defer auth.Close()
	gw, err := NewForwardAuth(ForwardAuthOptions{Address: auth.URL + "/auth", Upstream: upstream(t)})
	require.NoError(t, err)
	srv := httptest.NewServer(gw)
	defer srv.Close()

	tests := []struct {
		name         string
		path         string
		wantStatus   int
		wantHeader   http.Header
		wantBody     string
		wantUpstream http.Header
	}{
		{
			name: "2xx copies the auth response headers and removes the client's copies", path: "/page", wantStatus: 200,
			wantUpstream: http.Header{
				"Authorization": {"Bearer real"}, "X-Auth-Request-User": {"auth0|alice"}, "X-Auth-Request-Email": nil,
				"X-Not-Copied": nil, "Cookie": {"authbridge=x"}, "X-Forwarded-Proto": {"http"}, "X-Forwarded-For": {"127.0.0.1"},
			},
		},
		{
			name: "redirect goes to the browser as is, location resolved against the auth url", path: "/login",
			wantStatus: http.StatusFound,
			wantHeader: http.Header{"Set-Cookie": {"a=1", "b=2"}, "Location": {auth.URL + "/oauth2/start?rd=%2Flogin"}},
		},
		{
			name: "401 json body goes to the client", path: "/api", wantStatus: http.StatusUnauthorized,
			wantHeader: http.Header{"Content-Type": {"application/json"}}, wantBody: `{"error":"unauthenticated"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest("GET", srv.URL+tt.path, nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer forged")
			req.Header.Set("X-Auth-Request-Email", "mallory@evil.test")
			req.Header.Set("Cookie", "authbridge=x")
			resp, err := noRedirect.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, tt.wantStatus, resp.StatusCode)
			for k, v := range tt.wantHeader {
				require.Equal(t, v, resp.Header.Values(k), k)
			}
			if tt.wantBody != "" {
				b, err := io.ReadAll(resp.Body)
				require.NoError(t, err)
				require.Equal(t, tt.wantBody, string(b))
			}
			if tt.wantUpstream != nil {
				got := seen(t, resp)
				for k, v := range tt.wantUpstream {
					require.Equal(t, v, got[k], k)
				}
			}
		})
	}
}

func TestForwardAuthGatewayAuthDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there any more
	gw, err := NewForwardAuth(ForwardAuthOptions{Address: "http://" + addr + "/auth", Upstream: upstream(t)})
	require.NoError(t, err)
	w := httptest.NewRecorder()
	gw.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	require.Equal(t, http.StatusInternalServerError, w.Code, "Traefik answers 500 when the auth service is unreachable")
}
