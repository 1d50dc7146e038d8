package extauthz_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/pkg/extauthz"
	"github.com/authbridge/authbridge/pkg/session/sessiontest"
)

// client starts the front on a bufconn gRPC server and returns a client, as Envoy would hold.
func client(t *testing.T, env *enginetest.Env) authv3.AuthorizationClient {
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	authv3.RegisterAuthorizationServer(srv, extauthz.New(env.Engine, nil))
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return authv3.NewAuthorizationClient(conn)
}

// envoyRequest builds a CheckRequest the way Envoy 1.3x does: lower-case header keys including the
// pseudo-headers, path with query, host, scheme, and x-forwarded-proto / x-request-id.
func envoyRequest(method, path string, headers map[string]string) *authv3.CheckRequest {
	h := map[string]string{
		":authority":        enginetest.AppHost,
		":path":             path,
		":method":           method,
		":scheme":           "http",
		"x-forwarded-proto": "https",
		"x-request-id":      "6b1f0b3e-3c7e-4a55-9d7c-2c4c8f0f3d11",
		"user-agent":        "Mozilla/5.0",
	}
	for k, v := range headers {
		h[k] = v
	}
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
			SocketAddress: &corev3.SocketAddress{Address: "10.0.0.7", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 53122}}}}},
		Destination: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
			SocketAddress: &corev3.SocketAddress{Address: "10.0.0.9", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 8080}}}}},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id: "1234", Method: method, Headers: h, Path: path, Host: enginetest.AppHost, Scheme: "http", Protocol: "HTTP/1.1",
		}},
		ContextExtensions: map[string]string{"virtual_host": "app"},
	}}
}

func browser(cookie string) map[string]string {
	h := map[string]string{"accept": "text/html,application/xhtml+xml,*/*;q=0.8", "sec-fetch-mode": "navigate", "sec-fetch-site": "same-origin"}
	if cookie != "" {
		h["cookie"] = cookie
	}
	return h
}

func headerMap(opts []*corev3.HeaderValueOption) map[string][]string {
	m := map[string][]string{}
	for _, o := range opts {
		m[o.GetHeader().GetKey()] = append(m[o.GetHeader().GetKey()], o.GetHeader().GetValue())
	}
	return m
}

// loginThroughCheck runs the whole browser login through Check only: start, provider, callback.
func loginThroughCheck(t *testing.T, env *enginetest.Env, c authv3.AuthorizationClient) string {
	ctx := context.Background()
	resp, err := c.Check(ctx, envoyRequest("GET", "/dash", browser("")))
	require.NoError(t, err)
	den := resp.GetDeniedResponse()
	require.Equal(t, int32(codes.Unauthenticated), resp.GetStatus().GetCode())
	require.EqualValues(t, http.StatusFound, den.GetStatus().GetCode())
	hs := headerMap(den.GetHeaders())
	require.Len(t, hs["location"], 1)
	require.Len(t, hs["set-cookie"], 1)
	loginCookie := strings.SplitN(hs["set-cookie"][0], ";", 2)[0]
	cb := env.FollowToProvider(t, hs["location"][0])

	resp, err = c.Check(ctx, envoyRequest("GET", cb, browser(loginCookie)))
	require.NoError(t, err)
	hs = headerMap(resp.GetDeniedResponse().GetHeaders())
	require.EqualValues(t, http.StatusFound, resp.GetDeniedResponse().GetStatus().GetCode())
	require.Equal(t, []string{"https://" + enginetest.AppHost + "/dash"}, hs["location"])
	for _, sc := range hs["set-cookie"] {
		if strings.HasPrefix(sc, "authbridge=") {
			require.Contains(t, sc, "HttpOnly")
			require.Contains(t, sc, "Secure")
			require.Contains(t, sc, "SameSite=Lax")
			return strings.SplitN(sc, ";", 2)[0]
		}
	}
	t.Fatal("callback set no session cookie")
	return ""
}

func TestCheckLoginAndAllow(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{})
	c := client(t, env)
	session := loginThroughCheck(t, env, c)

	resp, err := c.Check(context.Background(), envoyRequest("POST", "/api/items?x=1", map[string]string{
		"cookie":               "theme=dark; " + session + "; authbridge-login=abc; lang=en",
		"authorization":        "Bearer spoofed",
		"x-auth-request-user":  "mallory",
		"x_auth_request_user":  "mallory",
		"x.auth.request.email": "mallory@evil.test",
		"content-type":         "application/json",
	}))
	require.NoError(t, err)
	require.Equal(t, int32(codes.OK), resp.GetStatus().GetCode())
	ok := resp.GetOkResponse()
	require.NotNil(t, ok)
	for _, h := range ok.GetHeaders() {
		require.Equal(t, corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD, h.GetAppendAction(), h.GetHeader().GetKey())
	}
	hs := headerMap(ok.GetHeaders())
	require.Len(t, hs["authorization"], 1)
	require.True(t, strings.HasPrefix(hs["authorization"][0], "Bearer ey"))
	require.Equal(t, []string{enginetest.Alice.Subject}, hs["x-auth-request-user"])
	require.Equal(t, []string{enginetest.Alice.Email}, hs["x-auth-request-email"])
	require.Equal(t, []string{"theme=dark; lang=en"}, hs["cookie"], "authbridge's cookies never reach the upstream")
	require.Equal(t, []string{"x.auth.request.email", "x_auth_request_user"}, ok.GetHeadersToRemove())
}

func TestCheckOnlyOurCookie(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{})
	c := client(t, env)
	session := loginThroughCheck(t, env, c)
	resp, err := c.Check(context.Background(), envoyRequest("GET", "/", map[string]string{"cookie": session}))
	require.NoError(t, err)
	require.Contains(t, resp.GetOkResponse().GetHeadersToRemove(), "cookie")
	require.NotContains(t, headerMap(resp.GetOkResponse().GetHeaders()), "cookie")
}

func TestCheckDenials(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{})
	c := client(t, env)
	tests := []struct {
		name       string
		req        *authv3.CheckRequest
		wantCode   codes.Code
		wantStatus int
	}{
		{"xhr without session", envoyRequest("GET", "/api", map[string]string{"accept": "application/json"}), codes.Unauthenticated, 401},
		{"grpc without session", envoyRequest("POST", "/pkg.Svc/Do", map[string]string{"content-type": "application/grpc"}), codes.Unauthenticated, 401},
		{"no attributes", &authv3.CheckRequest{}, codes.InvalidArgument, 400},
		{"no http attributes", &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{}}}, codes.InvalidArgument, 400},
		{"callback with unknown state", envoyRequest("GET", "/oauth2/callback?state=x&code=y", browser("")), codes.PermissionDenied, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := c.Check(context.Background(), tt.req)
			require.NoError(t, err, "every outcome is a CheckResponse, never a gRPC error")
			require.Equal(t, int32(tt.wantCode), resp.GetStatus().GetCode())
			require.EqualValues(t, tt.wantStatus, resp.GetDeniedResponse().GetStatus().GetCode())
			require.Nil(t, resp.GetOkResponse())
		})
	}
}

func TestCheckSignOutInsideCheck(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{})
	c := client(t, env)
	session := loginThroughCheck(t, env, c)
	resp, err := c.Check(context.Background(), envoyRequest("GET", "/oauth2/sign_out", browser(session)))
	require.NoError(t, err)
	hs := headerMap(resp.GetDeniedResponse().GetHeaders())
	require.EqualValues(t, 302, resp.GetDeniedResponse().GetStatus().GetCode())
	require.True(t, strings.HasPrefix(hs["location"][0], env.IDPURL+"oidc/logout?"))
	require.Len(t, hs["set-cookie"], 1)
	require.Contains(t, hs["set-cookie"][0], "Max-Age=0")

	resp, err = c.Check(context.Background(), envoyRequest("GET", "/api", map[string]string{"cookie": session, "accept": "application/json"}))
	require.NoError(t, err)
	require.EqualValues(t, 401, resp.GetDeniedResponse().GetStatus().GetCode())
}

func TestCheckStoreDownIsCheckResponse(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{Store: sessiontest.Down{}})
	c := client(t, env)
	resp, err := c.Check(context.Background(), envoyRequest("GET", "/", browser("authbridge=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")))
	require.NoError(t, err, "a gRPC error would let failure_mode_allow let the request through")
	require.Equal(t, int32(codes.Unavailable), resp.GetStatus().GetCode())
	require.EqualValues(t, 503, resp.GetDeniedResponse().GetStatus().GetCode())
	require.NotContains(t, headerMap(resp.GetDeniedResponse().GetHeaders()), "set-cookie", "a transient error never clears the cookie")
}
