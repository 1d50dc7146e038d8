package e2e_test

import (
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/authbridge/authbridge/internal/gateway"
)

// Every typed_config in the shipped file must resolve, so that its fields are checked too.
var (
	_ = (*routerv3.Router)(nil)
	_ = (*upstreamhttpv3.HttpProtocolOptions)(nil)
)

// strictProto decodes YAML into m as Envoy and istiod do: YAML to JSON, then protojson with unknown
// fields refused and every Any resolved against the registered types (so a misspelt key inside a
// typed_config fails too).
func strictProto(raw []byte, m proto.Message) error {
	var v any
	if err := yaml.Unmarshal(raw, &v); err != nil {
		return err
	}
	j, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return protojson.UnmarshalOptions{DiscardUnknown: false}.Unmarshal(j, m)
}

// envoySettings are the ext_authz settings of the shipped envoy.yaml that the test gateway takes over.
type envoySettings struct {
	timeout          time.Duration
	failureModeAllow bool
	statusOnError    int
}

// shippedEnvoy decodes deploy/envoy/envoy.yaml (with replacements applied) strictly into Envoy's bootstrap
// and returns its http_connection_manager and ext_authz filter.
func shippedEnvoy(raw string) (*hcmv3.HttpConnectionManager, *extauthzv3.ExtAuthz, *bootstrapv3.Bootstrap, error) {
	var bs bootstrapv3.Bootstrap
	if err := strictProto([]byte(raw), &bs); err != nil {
		return nil, nil, nil, err
	}
	if err := bs.ValidateAll(); err != nil {
		return nil, nil, nil, err
	}
	var hcm hcmv3.HttpConnectionManager
	if err := bs.GetStaticResources().GetListeners()[0].GetFilterChains()[0].GetFilters()[0].GetTypedConfig().UnmarshalTo(&hcm); err != nil {
		return nil, nil, nil, err
	}
	if err := hcm.ValidateAll(); err != nil {
		return nil, nil, nil, err
	}
	var ea extauthzv3.ExtAuthz
	for _, f := range hcm.GetHttpFilters() {
		if f.GetName() == "envoy.filters.http.ext_authz" {
			if err := f.GetTypedConfig().UnmarshalTo(&ea); err != nil {
				return nil, nil, nil, err
			}
		}
	}
	return &hcm, &ea, &bs, ea.ValidateAll()
}

func TestEnvoyConfig(t *testing.T) {
	raw := shipped(t, "envoy/envoy.yaml")
	hcm, ea, bs, err := shippedEnvoy(raw)
	require.NoError(t, err)

	require.True(t, hcm.GetUseRemoteAddress().GetValue(), "an edge proxy takes the client address from the connection")
	names := make([]string, 0, len(hcm.GetHttpFilters()))
	for _, f := range hcm.GetHttpFilters() {
		names = append(names, f.GetName())
	}
	require.Equal(t, []string{"envoy.filters.http.ext_authz", "envoy.filters.http.router"}, names, "the check runs before routing")

	require.Equal(t, corev3.ApiVersion_V3, ea.GetTransportApiVersion())
	require.False(t, ea.GetFailureModeAllow(), "authbridge unreachable must not let requests through")
	require.False(t, ea.GetShadowMode())
	require.Nil(t, ea.GetFilterEnabled(), "checks every request")
	require.Nil(t, ea.GetWithRequestBody(), "authbridge never needs the body")
	require.Nil(t, ea.GetHttpService(), "gRPC, not the HTTP service")
	require.Equal(t, typev3.StatusCode_ServiceUnavailable, ea.GetStatusOnError().GetCode())
	timeout := ea.GetGrpcService().GetTimeout().AsDuration()
	require.True(t, timeout >= time.Second && timeout <= 10*time.Second, "a sensible timeout, not Envoy's 200ms default: %s", timeout)

	cluster := ea.GetGrpcService().GetEnvoyGrpc().GetClusterName()
	require.Equal(t, "authbridge", cluster)
	i := slices.IndexFunc(bs.GetStaticResources().GetClusters(), func(c *clusterv3.Cluster) bool { return c.GetName() == cluster })
	require.GreaterOrEqual(t, i, 0, "the gRPC cluster exists")
	c := bs.GetStaticResources().GetClusters()[i]
	var po upstreamhttpv3.HttpProtocolOptions
	require.NoError(t, c.GetTypedExtensionProtocolOptions()["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].UnmarshalTo(&po))
	require.NotNil(t, po.GetExplicitHttpConfig().GetHttp2ProtocolOptions(), "gRPC needs HTTP/2")
	addr := c.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress()
	require.Equal(t, uint32(9191), addr.GetPortValue(), "authbridge's gRPC port")

	t.Run("strict", func(t *testing.T) {
		// A misspelt key fails wherever it is: in the bootstrap, in a typed_config, deep in a filter.
		for _, tc := range []struct{ from, to string }{
			{"connect_timeout: 1s", "conect_timeout: 1s"},
			{"use_remote_address: true", "use_remote_adress: true"},
			{"failure_mode_allow: false", "failure_mode_alow: false"},
			{"envoy_grpc: { cluster_name: authbridge }", "envoy_grpc: { cluster: authbridge }"},
			{"transport_api_version: V3", "transport_api_version: V4"},
			{"ext_authz.v3.ExtAuthz", "ext_authz.v3.ExtAuth"},
		} {
			require.Contains(t, raw, tc.from)
			_, _, _, err := shippedEnvoy(strings.Replace(raw, tc.from, tc.to, 1))
			require.Error(t, err, tc.to)
		}
	})
}

// shippedEnvoySettings returns the shipped ext_authz settings for the test gateway.
func shippedEnvoySettings(t *testing.T) envoySettings {
	t.Helper()
	_, ea, _, err := shippedEnvoy(shipped(t, "envoy/envoy.yaml"))
	require.NoError(t, err)
	return envoySettings{
		timeout:          ea.GetGrpcService().GetTimeout().AsDuration(),
		failureModeAllow: ea.GetFailureModeAllow(),
		statusOnError:    int(ea.GetStatusOnError().GetCode()),
	}
}

// TestEnvoyGateway runs the browser flow through a gateway that speaks ext_authz as Envoy does, with the
// shipped filter settings, to authbridge's gRPC listener.
func TestEnvoyGateway(t *testing.T) {
	t.Parallel()
	settings := shippedEnvoySettings(t)
	s := sharedStack(t)
	up := startUpstream(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	base := "http://" + l.Addr().String()
	ab := startAuthbridge(t, s, base)
	conn, err := grpc.NewClient(ab.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	gw, err := gateway.NewEnvoy(gateway.EnvoyOptions{
		Upstream:         &url.URL{Scheme: "http", Host: up.addr},
		Client:           authv3.NewAuthorizationClient(conn),
		Timeout:          settings.timeout,
		FailureModeAllow: settings.failureModeAllow,
		StatusOnError:    settings.statusOnError,
	})
	require.NoError(t, err)
	srv := &http.Server{Handler: gw, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	g := gatewayUnderTest{base: base, up: up, ab: ab, spoofs: forgedAll()}

	runGatewayFlow(t, s, g)

	t.Run("authbridge down: refused, not let through", func(t *testing.T) {
		ab.proc.stop()
		n := up.count()
		resp, _ := g.get(t, "/while-down", http.Header{"Accept": {"text/html"}}, "")
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "status_on_error")
		require.Equal(t, n, up.count())
	})
}
