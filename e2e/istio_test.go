package e2e_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
	meshv1alpha1 "istio.io/api/mesh/v1alpha1"
	securityv1 "istio.io/api/security/v1"
	securityv1beta1 "istio.io/api/security/v1beta1"
)

// meshValues is the shipped meshconfig.yaml: Helm values of the istiod chart holding only meshConfig.
type meshValues struct {
	MeshConfig yaml.Node `yaml:"meshConfig"`
}

// istioObject is an Istio API object whose spec is decoded separately into its proto.
type istioObject struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   objectMeta `yaml:"metadata"`
	Spec       yaml.Node  `yaml:"spec"`
}

// shippedIstio decodes deploy/istio strictly into Istio's own API types.
func shippedIstio(meshRaw, policyRaw string) (*meshv1alpha1.MeshConfig, *istioObject, *securityv1.AuthorizationPolicy, error) {
	values, err := decodeStrict[meshValues](meshRaw)
	if err != nil {
		return nil, nil, nil, err
	}
	objs, err := decodeStrict[istioObject](policyRaw)
	if err != nil {
		return nil, nil, nil, err
	}
	if len(values) != 1 || len(objs) != 1 {
		return nil, nil, nil, errors.New("want one document per file")
	}
	var mesh meshv1alpha1.MeshConfig
	if err := nodeProto(&values[0].MeshConfig, &mesh); err != nil {
		return nil, nil, nil, err
	}
	var ap securityv1.AuthorizationPolicy
	if err := nodeProto(&objs[0].Spec, &ap); err != nil {
		return nil, nil, nil, err
	}
	return &mesh, &objs[0], &ap, nil
}

func TestIstioConfig(t *testing.T) {
	meshRaw, policyRaw := shipped(t, "istio/meshconfig.yaml"), shipped(t, "istio/authorizationpolicy.yaml")
	mesh, obj, ap, err := shippedIstio(meshRaw, policyRaw)
	require.NoError(t, err)

	require.Equal(t, "security.istio.io/v1", obj.APIVersion)
	require.Equal(t, "AuthorizationPolicy", obj.Kind)
	require.Equal(t, securityv1beta1.AuthorizationPolicy_CUSTOM, ap.GetAction())
	require.NotEmpty(t, ap.GetRules(), "a CUSTOM policy without rules checks nothing")
	for _, r := range ap.GetRules() {
		require.Empty(t, r.GetFrom(), "every request is checked")
		require.Empty(t, r.GetTo(), "every request is checked")
		require.Empty(t, r.GetWhen(), "every request is checked")
	}

	var provider *meshv1alpha1.MeshConfig_ExtensionProvider
	for _, p := range mesh.GetExtensionProviders() {
		if p.GetName() == ap.GetProvider().GetName() {
			provider = p
		}
	}
	require.NotNil(t, provider, "the policy's provider %q is in the mesh config", ap.GetProvider().GetName())
	grpc := provider.GetEnvoyExtAuthzGrpc()
	require.NotNil(t, grpc, "ext_authz over gRPC, not HTTP")
	require.Equal(t, uint32(9191), grpc.GetPort(), "authbridge's gRPC port")
	require.True(t, strings.HasSuffix(grpc.GetService(), ".svc.cluster.local"))
	require.False(t, grpc.GetFailOpen(), "authbridge unreachable must not let requests through")
	require.Equal(t, "503", grpc.GetStatusOnError())
	require.Nil(t, grpc.GetIncludeRequestBodyInCheck(), "authbridge never needs the body")
	require.Equal(t, shippedEnvoySettings(t).timeout, grpc.GetTimeout().AsDuration(), "the same timeout as envoy.yaml")
	require.Greater(t, grpc.GetTimeout().AsDuration(), 500*time.Millisecond)

	t.Run("strict", func(t *testing.T) {
		for _, tc := range []struct{ mesh, policy, from, to string }{
			{mesh: meshRaw, from: "failOpen: false", to: "failopen: false"},
			{mesh: meshRaw, from: "envoyExtAuthzGrpc:", to: "envoyExtAuthzGRPC:"},
			{mesh: meshRaw, from: "meshConfig:", to: "meshconfig:"},
			{policy: policyRaw, from: "action: CUSTOM", to: "action: CUSTOMER"},
			{policy: policyRaw, from: "    name: authbridge", to: "    nmae: authbridge"},
			{policy: policyRaw, from: "namespace: app", to: "namespaces: app"},
		} {
			m, p := meshRaw, policyRaw
			if tc.mesh != "" {
				require.Contains(t, m, tc.from)
				m = strings.Replace(m, tc.from, tc.to, 1)
			} else {
				require.Contains(t, p, tc.from)
				p = strings.Replace(p, tc.from, tc.to, 1)
			}
			_, _, _, err := shippedIstio(m, p)
			require.Error(t, err, tc.to)
		}
	})
}

// TestIstioTwoApps: deploy/istio/two-apps.yaml decodes strictly into Istio's AuthorizationPolicy, sends
// both apps' hosts to the mesh config's authbridge provider, and the hosts it checks are the ones the
// two-app policy's routes match by host (Istio cannot pass a route name, so every route it relies on
// must carry a host).
func TestIstioTwoApps(t *testing.T) {
	mesh, obj, ap, err := shippedIstio(shipped(t, "istio/meshconfig.yaml"), shipped(t, "istio/two-apps.yaml"))
	require.NoError(t, err)
	require.Equal(t, "AuthorizationPolicy", obj.Kind)
	require.Equal(t, securityv1beta1.AuthorizationPolicy_CUSTOM, ap.GetAction())
	found := false
	for _, p := range mesh.GetExtensionProviders() {
		found = found || p.GetName() == ap.GetProvider().GetName()
	}
	require.True(t, found, "the provider is in the mesh config")
	var hosts []string
	for _, r := range ap.GetRules() {
		for _, to := range r.GetTo() {
			hosts = append(hosts, to.GetOperation().GetHosts()...)
		}
	}
	require.ElementsMatch(t, []string{"admin.example.com", "app.example.com"}, hosts)

	var pol struct {
		Policy struct {
			Routes []struct {
				Name string `yaml:"name"`
				Host string `yaml:"host"`
			} `yaml:"routes"`
		} `yaml:"policy"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(shipped(t, "policy/two-apps.yaml")), &pol))
	require.NotEmpty(t, pol.Policy.Routes)
	for _, r := range pol.Policy.Routes {
		require.NotEmpty(t, r.Host, "route %s needs a host behind Istio", r.Name)
		require.Contains(t, hosts, r.Host, "route %s's host is checked", r.Name)
	}
}
