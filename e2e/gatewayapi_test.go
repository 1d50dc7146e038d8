package e2e_test

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
	securityv1 "istio.io/api/security/v1"
	securityv1beta1 "istio.io/api/security/v1beta1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1b1 "sigs.k8s.io/gateway-api/apis/v1beta1"
	k8sjson "sigs.k8s.io/json"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/authbridge/authbridge/pkg/config"
)

// gatewayKinds are the Go types of the Gateway API and Envoy Gateway objects that deploy/gateway-api ships,
// by apiVersion/kind: the projects' own API types (sigs.k8s.io/gateway-api v1.6, Envoy Gateway v1.9).
var gatewayKinds = map[string]func() any{
	"gateway.networking.k8s.io/v1/Gateway":             func() any { return &gwv1.Gateway{} },
	"gateway.networking.k8s.io/v1/HTTPRoute":           func() any { return &gwv1.HTTPRoute{} },
	"gateway.networking.k8s.io/v1beta1/ReferenceGrant": func() any { return &gwv1b1.ReferenceGrant{} },
	"gateway.envoyproxy.io/v1alpha1/SecurityPolicy":    func() any { return &egv1a1.SecurityPolicy{} },
}

// decodeGatewayAPI decodes every document of raw strictly into its kind's Go type, as the API server's
// strict field validation does: with sigs.k8s.io/json, whose field names match case-sensitively and which
// reports unknown and duplicate fields (sigs.k8s.io/yaml.UnmarshalStrict goes through encoding/json, which
// would take failopen for failOpen).
func decodeGatewayAPI(raw string) ([]any, error) {
	docs, err := decodeStrict[yaml.Node](raw)
	if err != nil {
		return nil, err
	}
	var out []any
	for _, d := range docs {
		b, err := yaml.Marshal(&d)
		if err != nil {
			return nil, err
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := sigsyaml.Unmarshal(b, &head); err != nil {
			return nil, err
		}
		newT, ok := gatewayKinds[head.APIVersion+"/"+head.Kind]
		if !ok {
			return nil, fmt.Errorf("unexpected kind %s/%s", head.APIVersion, head.Kind)
		}
		j, err := sigsyaml.YAMLToJSONStrict(b)
		if err != nil {
			return nil, err
		}
		obj := newT()
		strict, err := k8sjson.UnmarshalStrict(j, obj)
		if err = errors.Join(append(strict, err)...); err != nil {
			return nil, fmt.Errorf("%s: %w", head.Kind, err)
		}
		out = append(out, obj)
	}
	return out, nil
}

func ofKind[T any](objs []any) []T {
	var out []T
	for _, o := range objs {
		if v, ok := o.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

// listenPort is the port of one of authbridge's default listen addresses.
func listenPort(t *testing.T, addr string) gwv1.PortNumber {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	var n int32
	_, err = fmt.Sscan(p, &n)
	require.NoError(t, err)
	return gwv1.PortNumber(n)
}

// checkGatewayRoutes checks the Gateway and routes of one example: one Gateway terminating TLS, every
// route attached to it, the app's route to the app, /oauth2/ (and nothing else) to authbridge's
// browser-facing port, and every reference into authbridge's namespace allowed by a ReferenceGrant. It
// returns the Gateway and the app's route.
func checkGatewayRoutes(t *testing.T, objs []any) (*gwv1.Gateway, *gwv1.HTTPRoute) {
	t.Helper()
	def := config.Default().Listen
	gws := ofKind[*gwv1.Gateway](objs)
	require.Len(t, gws, 1)
	gw := gws[0]
	require.Len(t, gw.Spec.Listeners, 1)
	l := gw.Spec.Listeners[0]
	require.Equal(t, gwv1.HTTPSProtocolType, l.Protocol, "browsers reach the app over https (Secure cookie)")
	require.NotNil(t, l.TLS)
	require.NotEmpty(t, l.TLS.CertificateRefs)

	grants := ofKind[*gwv1b1.ReferenceGrant](objs)
	granted := func(fromGroup, fromKind, fromNS, toNS, toName string) bool {
		for _, g := range grants {
			if g.Namespace != toNS {
				continue
			}
			from, to := false, false
			for _, f := range g.Spec.From {
				from = from || string(f.Group) == fromGroup && string(f.Kind) == fromKind && string(f.Namespace) == fromNS
			}
			for _, r := range g.Spec.To {
				to = to || r.Group == "" && r.Kind == "Service" && (r.Name == nil || string(*r.Name) == toName)
			}
			if from && to {
				return true
			}
		}
		return false
	}

	var app *gwv1.HTTPRoute
	oauth2 := 0
	for _, r := range ofKind[*gwv1.HTTPRoute](objs) {
		require.Len(t, r.Spec.ParentRefs, 1, r.Name)
		require.Equal(t, gw.Name, string(r.Spec.ParentRefs[0].Name), "route %s is attached to the Gateway", r.Name)
		require.Equal(t, gw.Namespace, r.Namespace)
		require.Len(t, r.Spec.Rules, 1, r.Name)
		rule := r.Spec.Rules[0]
		require.Len(t, rule.Matches, 1, r.Name)
		prefix := *rule.Matches[0].Path.Value
		require.Equal(t, gwv1.PathMatchPathPrefix, *rule.Matches[0].Path.Type)
		require.Len(t, rule.BackendRefs, 1, r.Name)
		ref := rule.BackendRefs[0]
		ns := r.Namespace
		if ref.Namespace != nil {
			ns = string(*ref.Namespace)
			require.True(t, granted("gateway.networking.k8s.io", "HTTPRoute", r.Namespace, ns, string(ref.Name)),
				"route %s may reach %s/%s: a ReferenceGrant allows it", r.Name, ns, ref.Name)
		}
		if string(ref.Name) == "authbridge" {
			oauth2++
			require.Equal(t, "/oauth2/", prefix, "only /oauth2/ goes to authbridge")
			require.Equal(t, listenPort(t, def.HTTP), *ref.Port, "/oauth2/ goes to the browser-facing port, never a token port")
			require.Empty(t, rule.Filters, "authbridge's own pages need no check")
			continue
		}
		require.Equal(t, "/", prefix)
		require.Equal(t, "api", string(ref.Name))
		app = r
	}
	require.Equal(t, 1, oauth2, "one /oauth2/ route to authbridge")
	require.NotNil(t, app, "the app's route")
	return gw, app
}

func TestGatewayAPIEnvoyGateway(t *testing.T) {
	gwRaw, spRaw := shipped(t, "gateway-api/envoy-gateway/gateway.yaml"), shipped(t, "gateway-api/envoy-gateway/securitypolicy.yaml")
	objs, err := decodeGatewayAPI(gwRaw + "\n---\n" + spRaw)
	require.NoError(t, err)
	gw, _ := checkGatewayRoutes(t, objs)

	sps := ofKind[*egv1a1.SecurityPolicy](objs)
	require.Len(t, sps, 1)
	sp := sps[0]
	require.Len(t, sp.Spec.TargetRefs, 1)
	target := sp.Spec.TargetRefs[0]
	require.Equal(t, "Gateway", string(target.Kind), "every route through the Gateway is checked")
	require.Equal(t, gw.Name, string(target.Name))
	require.Equal(t, gw.Namespace, sp.Namespace, "a policy targets objects of its own namespace")
	ea := sp.Spec.ExtAuth
	require.NotNil(t, ea)
	require.Nil(t, ea.HTTP, "ext_authz over gRPC")
	require.NotNil(t, ea.GRPC)
	require.Len(t, ea.GRPC.BackendRefs, 1)
	ref := ea.GRPC.BackendRefs[0]
	require.Equal(t, "authbridge", string(ref.Name))
	require.Equal(t, listenPort(t, config.Default().Listen.GRPC), *ref.Port, "authbridge's gRPC port")
	require.NotNil(t, ref.Namespace)
	grants := ofKind[*gwv1b1.ReferenceGrant](objs)
	allowed := false
	for _, g := range grants {
		for _, f := range g.Spec.From {
			allowed = allowed || g.Namespace == string(*ref.Namespace) && f.Group == "gateway.envoyproxy.io" &&
				f.Kind == "SecurityPolicy" && string(f.Namespace) == sp.Namespace
		}
	}
	require.True(t, allowed, "a ReferenceGrant lets the SecurityPolicy reach authbridge's namespace")
	require.NotNil(t, ea.FailOpen)
	require.False(t, *ea.FailOpen, "authbridge unreachable must not let requests through")
	require.Nil(t, ea.BodyToExtAuth, "authbridge never needs the body")
	require.Empty(t, ea.HeadersToExtAuth, "every header is sent, the cookie included")
	require.NotNil(t, ea.Timeout)
	require.Equal(t, shippedEnvoySettings(t).timeout.String(), string(*ea.Timeout), "the same timeout as envoy.yaml")

	strictRows(t, []string{gwRaw, spRaw}, func(files []string) error {
		_, err := decodeGatewayAPI(files[0] + "\n---\n" + files[1])
		return err
	}, []struct{ from, to string }{
		{"  extAuth:", "  extAuthz:"},
		{"failOpen: false", "failopen: false"},
		{"    grpc:", "    gRPC:"},
		{"    backendRefs:", "    backendRef:"},
		{"  targetRefs:", "  targetRef:"},
		{"  gatewayClassName: eg", "  gatewayClass: eg"},
		{"      certificateRefs:", "      certificateRef:"},
	})
}

func TestGatewayAPIIstio(t *testing.T) {
	gwRaw, apRaw := shipped(t, "gateway-api/istio/gateway.yaml"), shipped(t, "gateway-api/istio/authorizationpolicy.yaml")
	objs, err := decodeGatewayAPI(gwRaw)
	require.NoError(t, err)
	gw, _ := checkGatewayRoutes(t, objs)
	require.Equal(t, "istio", string(gw.Spec.GatewayClassName))

	mesh, obj, ap, err := shippedIstio(shipped(t, "istio/meshconfig.yaml"), apRaw)
	require.NoError(t, err)
	require.Equal(t, gw.Namespace, obj.Metadata.Namespace)
	require.Equal(t, securityv1beta1.AuthorizationPolicy_CUSTOM, ap.GetAction())
	require.Nil(t, ap.GetSelector(), "the policy attaches by targetRefs")
	require.Len(t, ap.GetTargetRefs(), 1)
	target := ap.GetTargetRefs()[0]
	require.Equal(t, "gateway.networking.k8s.io", target.GetGroup())
	require.Equal(t, "Gateway", target.GetKind())
	require.Equal(t, gw.Name, target.GetName())
	require.NotEmpty(t, ap.GetRules())
	for _, r := range ap.GetRules() {
		require.Empty(t, r.GetFrom(), "every request is checked")
		require.Empty(t, r.GetTo(), "every request is checked")
		require.Empty(t, r.GetWhen(), "every request is checked")
	}
	found := false
	for _, p := range mesh.GetExtensionProviders() {
		found = found || p.GetName() == ap.GetProvider().GetName() && p.GetEnvoyExtAuthzGrpc() != nil
	}
	require.True(t, found, "the provider is meshconfig.yaml's ext_authz gRPC provider (checked by TestIstioConfig)")

	strictRows(t, []string{gwRaw, apRaw}, func(files []string) error {
		if _, err := decodeGatewayAPI(files[0]); err != nil {
			return err
		}
		objs, err := decodeStrict[istioObject](files[1])
		if err != nil {
			return err
		}
		return nodeProto(&objs[0].Spec, &securityv1.AuthorizationPolicy{})
	}, []struct{ from, to string }{
		{"  targetRefs:", "  targetRef:"},
		{"action: CUSTOM", "action: CUSTOMER"},
		{"    - name: authbridge\n      namespace: auth", "    - name: authbridge\n      namespaces: auth"},
		{"  hostnames:", "  hostname:"},
	})
}

func TestGatewayAPITraefik(t *testing.T) {
	gwRaw := shipped(t, "gateway-api/traefik/gateway.yaml")
	objs, err := decodeGatewayAPI(gwRaw)
	require.NoError(t, err)
	gw, app := checkGatewayRoutes(t, objs)
	require.Equal(t, "traefik", string(gw.Spec.GatewayClassName))

	// The middleware is deploy/traefik/middleware.yaml's (its forward-auth address, port 4181, and headers
	// are checked by TestTraefikConfig).
	mw, route, dyn := readTraefik(t)
	f, err := shippedTraefik(mw, route, dyn)
	require.NoError(t, err)
	filters := app.Spec.Rules[0].Filters
	require.Len(t, filters, 1, "the app's route runs through the forwardAuth middleware")
	require.Equal(t, gwv1.HTTPRouteFilterExtensionRef, filters[0].Type)
	ext := filters[0].ExtensionRef
	require.NotNil(t, ext)
	require.Equal(t, "traefik.io", string(ext.Group))
	require.Equal(t, "Middleware", string(ext.Kind))
	require.Equal(t, f.middleware.Metadata.Name, string(ext.Name))
	require.Equal(t, f.middleware.Metadata.Namespace, app.Namespace, "an ExtensionRef names a Middleware of the route's namespace")

	strictRows(t, []string{gwRaw}, func(files []string) error {
		_, err := decodeGatewayAPI(files[0])
		return err
	}, []struct{ from, to string }{
		{"      extensionRef:", "      extensionref:"},
		{"    filters:", "    filter:"},
		{"        kind: Middleware", "        kind: Middleware\n        namespace: app"},
		{"  parentRefs:", "  parentRef:"},
	})
}

// strictRows: each replacement, made in the one file that holds it, makes decode fail.
func strictRows(t *testing.T, files []string, decode func([]string) error, rows []struct{ from, to string }) {
	t.Helper()
	require.NoError(t, decode(files))
	for _, tc := range rows {
		found := false
		for i, raw := range files {
			if !strings.Contains(raw, tc.from) {
				continue
			}
			found = true
			changed := append([]string(nil), files...)
			changed[i] = strings.Replace(raw, tc.from, tc.to, 1)
			require.Error(t, decode(changed), "%q → %q", tc.from, tc.to)
		}
		require.True(t, found, "%q is in a shipped file", tc.from)
	}
}
