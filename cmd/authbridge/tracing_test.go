package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/authbridge/authbridge/internal/leaktest"
	"github.com/authbridge/authbridge/internal/otlptest"
	"github.com/authbridge/authbridge/pkg/authz"
	"github.com/authbridge/authbridge/pkg/login"
)

// The gateway's span in the traceparent the tests send: authbridge's decision span must be its child.
const (
	gatewayTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	gatewaySpan  = "00f067aa0ba902b7"
	traceparent  = "00-" + gatewayTrace + "-" + gatewaySpan + "-01"
	// envoyCheckSpan is the client span of Envoy's ext_authz call, in the Check call's gRPC metadata: the
	// decision's parent, rather than the client's span in the CheckRequest's headers.
	envoyCheckSpan = "b7ad6b7169203331"
)

// TestServeTracing runs `serve` with the OTEL_* variables pointing at an in-process OTLP receiver, over
// each protocol, and asks it through one front each: the decision span continues the gateway's trace,
// store, refresh and provider calls are its children, and no secret is in any span.
func TestServeTracing(t *testing.T) {
	for _, tc := range []struct {
		name, protocol string
		ask            func(t *testing.T, inst *instance, cookie *http.Cookie) (bearer string)
		parent         string
	}{
		{"Check over OTLP/gRPC", "grpc", checkTraced, envoyCheckSpan},
		{"forward-auth over OTLP/HTTP", "http/protobuf", forwardAuthTraced, gatewaySpan},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rcv := otlptest.Start(t)
			endpoint := rcv.HTTPURL
			if tc.protocol == "grpc" {
				endpoint = "http://" + rcv.GRPCAddr
			}
			t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
			t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", tc.protocol)
			t.Setenv("OTEL_SERVICE_NAME", "authbridge-under-test")
			t.Setenv("OTEL_TRACES_SAMPLER", "parentbased_always_on")

			var secrets leaktest.Secrets
			inst := start(t, 30*time.Second) // shorter than refresh_ahead: every check refreshes
			inst.idp.SetTokenRewrite(func(_ http.Header, body []byte) []byte {
				var tok map[string]any
				_ = json.Unmarshal(body, &tok)
				for _, k := range []string{"access_token", "refresh_token", "id_token"} {
					if v, ok := tok[k].(string); ok {
						secrets.Add(k, v)
					}
				}
				return body
			})
			_, cookie := browserLogin(t, inst)
			secrets.AddSessionCookie("session cookie", cookie.Value)
			for name, v := range map[string]string{"client secret": testSecret, "cookie secret": testCookieSecret,
				"admin token": adminToken, "e-mail": "alice@example.com"} {
				secrets.Add(name, v)
			}
			secrets.Add("bearer", strings.TrimPrefix(tc.ask(t, inst, cookie), "Bearer "))
			require.GreaterOrEqual(t, secrets.Len(), 9, "the refresh's tokens were captured")

			require.NoError(t, inst.stop()) // flushes the spans still buffered
			all := rcv.Spans()
			var decide otlptest.Span
			for _, s := range all {
				if s.GetName() == authz.SpanDecide && s.TraceID() == gatewayTrace {
					decide = s
				}
			}
			require.NotNil(t, decide.Span, "a decision span in the gateway's trace; got %d spans", len(all))
			require.Equal(t, tc.parent, decide.ParentID(), "the gateway's span is the parent")
			require.Equal(t, "allow", decide.Attr(authz.AttrOutcome))
			require.Equal(t, "valid session", decide.Attr(authz.AttrReason))
			require.Equal(t, "/dashboard", decide.Attr("url.path"), "the path, without its query")

			children := map[string]bool{}
			for _, s := range all {
				if s.TraceID() == gatewayTrace && s.SpanID() != decide.SpanID() {
					children[s.GetName()] = true
				}
			}
			for _, name := range []string{"session.store get", "session.store compare_and_swap", "authbridge.refresh", login.SpanToken} {
				require.True(t, children[name], "child span %q in %v", name, children)
			}
			names := map[string]bool{}
			for _, s := range all {
				names[s.GetName()] = true
			}
			require.True(t, names[login.SpanDiscovery], "discovery at start-up")
			require.True(t, names[login.SpanJWKS], "the keys fetched to verify the login's ID token")
			service := ""
			for _, kv := range decide.Resource {
				if kv.GetKey() == "service.name" {
					service = otlptest.Value(kv.GetValue())
				}
			}
			require.Equal(t, "authbridge-under-test", service, "OTEL_SERVICE_NAME names the service")

			for _, s := range all {
				secrets.Check(t, "span "+s.GetName(), strings.Join(s.Strings(), "\n"))
			}
			secrets.Check(t, "log", inst.logs.String())
			require.Contains(t, inst.logs.String(), `"trace_id":"`+gatewayTrace+`"`, "the decision log names the trace")
		})
	}
}

// checkTraced asks Check as Envoy does with tracing on: the client's traceparent among the headers, and
// Envoy's own span of the call in the gRPC metadata.
func checkTraced(t *testing.T, inst *instance, cookie *http.Cookie) string {
	conn, err := grpc.NewClient(inst.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	ctx := metadata.AppendToOutgoingContext(context.Background(), "traceparent", "00-"+gatewayTrace+"-"+envoyCheckSpan+"-01")
	resp, err := authv3.NewAuthorizationClient(conn).Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
			SocketAddress: &corev3.SocketAddress{Address: "203.0.113.7", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 52944}}}}},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: "GET", Path: "/dashboard?q=1", Host: "app.test", Scheme: "https",
			Headers: map[string]string{
				":authority": "app.test", ":method": "GET", ":path": "/dashboard?q=1", ":scheme": "https",
				"accept": "application/json", "cookie": cookie.Name + "=" + cookie.Value,
				"x-request-id": "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c", "traceparent": traceparent, "tracestate": "vendor=x",
			},
		}},
	}})
	require.NoError(t, err)
	require.NotNil(t, resp.GetOkResponse(), "allowed")
	for _, h := range resp.GetOkResponse().GetHeaders() {
		if h.GetHeader().GetKey() == "authorization" {
			return h.GetHeader().GetValue()
		}
	}
	t.Fatal("no authorization header")
	return ""
}

// forwardAuthTraced asks /auth as Traefik does with tracing on: the client's request headers, with
// Traefik's traceparent, on the forward-auth request.
func forwardAuthTraced(t *testing.T, inst *instance, cookie *http.Cookie) string {
	req, _ := http.NewRequest("GET", inst.forwardAuth+"/auth", nil)
	for k, v := range map[string]string{"X-Forwarded-Method": "GET", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.test",
		"X-Forwarded-Uri": "/dashboard?q=1", "Accept": "application/json", "Traceparent": traceparent} {
		req.Header.Set(k, v)
	}
	req.AddCookie(cookie)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Len(t, resp.Header.Get(authz.HeaderRequestID), 32, "Traefik sent no request id: authbridge returns the one it made")
	return resp.Header.Get("Authorization")
}
