package charts_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	securityv1beta1 "istio.io/api/security/v1beta1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// object is one rendered manifest.
type object struct {
	gvk  string // apiVersion/kind, e.g. apps/v1/Deployment
	name string
	ns   string
	json []byte // the manifest as JSON
	// typed is the manifest decoded into its k8s.io/api type (*appsv1.Deployment, ...), or a *customObject
	// for a custom resource.
	typed any
}

// customObject is a custom resource: metadata decoded strictly, spec checked against its CRD schema.
type customObject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              json.RawMessage `json:"spec"`
}

// builtinTypes maps every built-in kind the chart may render to its Go type.
var builtinTypes = map[string]func() any{
	"v1/ConfigMap":                           func() any { return &corev1.ConfigMap{} },
	"v1/Secret":                              func() any { return &corev1.Secret{} },
	"v1/Service":                             func() any { return &corev1.Service{} },
	"v1/ServiceAccount":                      func() any { return &corev1.ServiceAccount{} },
	"apps/v1/Deployment":                     func() any { return &appsv1.Deployment{} },
	"policy/v1/PodDisruptionBudget":          func() any { return &policyv1.PodDisruptionBudget{} },
	"autoscaling/v2/HorizontalPodAutoscaler": func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"networking.k8s.io/v1/NetworkPolicy":     func() any { return &networkingv1.NetworkPolicy{} },
	"networking.k8s.io/v1/Ingress":           func() any { return &networkingv1.Ingress{} },
}

var docSeparator = regexp.MustCompile(`(?m)^---\s*$`)

// decodeManifests splits a multi-document YAML stream and decodes every object strictly: duplicate
// keys and fields its Go type (or CRD schema) does not have fail the test.
func decodeManifests(t *testing.T, stream string) []object {
	t.Helper()
	var objs []object
	for _, doc := range docSeparator.Split(stream, -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		j, err := yaml.YAMLToJSONStrict([]byte(doc))
		require.NoError(t, err, doc)
		var head struct {
			APIVersion, Kind string
			Metadata         struct{ Name, Namespace string }
		}
		require.NoError(t, json.Unmarshal(j, &head))
		o := object{gvk: head.APIVersion + "/" + head.Kind, name: head.Metadata.Name, ns: head.Metadata.Namespace, json: j}
		if newT, ok := builtinTypes[o.gvk]; ok {
			o.typed = newT()
			require.NoError(t, strictJSON(j, o.typed), "%s %s", o.gvk, o.name)
		} else {
			o.typed = decodeCustom(t, o)
		}
		objs = append(objs, o)
	}
	return objs
}

// decodeCustom checks a custom resource against the upstream CRD schema, and an Istio resource also
// against Istio's protobuf type with protojson, which rejects unknown fields.
func decodeCustom(t *testing.T, o object) *customObject {
	t.Helper()
	c := &customObject{}
	require.NoError(t, strictJSON(o.json, c), "%s %s", o.gvk, o.name)
	// The API server checks metadata itself (decoded strictly above); the CRD's schema governs spec.
	specSchema, ok := crdSchema(t, o.gvk)["properties"].(map[string]any)["spec"].(map[string]any)
	require.True(t, ok, "CRD of %s has no spec schema", o.gvk)
	errs := validateSchema(specSchema, decodeJSON(t, c.Spec), o.gvk+" spec", true)
	require.Empty(t, errs, "%s %s does not match its CRD schema", o.gvk, o.name)
	if o.gvk == "security.istio.io/v1/AuthorizationPolicy" {
		require.NoError(t, protojson.Unmarshal(c.Spec, &securityv1beta1.AuthorizationPolicy{}), "%s spec", o.name)
	}
	return c
}

// strictJSON decodes j into v as the API server's strict field validation does (sigs.k8s.io/json): field
// names match case-sensitively, and fields v does not have and duplicate fields are errors. encoding/json,
// which sigs.k8s.io/yaml.UnmarshalStrict uses, would take imagepullpolicy for imagePullPolicy.
func strictJSON(j []byte, v any) error {
	strict, err := k8sjson.UnmarshalStrict(j, v)
	return errors.Join(append(strict, err)...)
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// find returns the typed objects of kind T, in render order.
func find[T any](objs []object) []T {
	var out []T
	for _, o := range objs {
		if v, ok := o.typed.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

// one returns the single object of type T named name, failing the test otherwise.
func one[T interface{ GetName() string }](t *testing.T, objs []object, name string) T {
	t.Helper()
	var hits []T
	for _, v := range find[T](objs) {
		if v.GetName() == name {
			hits = append(hits, v)
		}
	}
	var zero T
	require.Len(t, hits, 1, "want one %T named %s", zero, name)
	return hits[0]
}

func kinds(objs []object) []string {
	out := make([]string, 0, len(objs))
	for _, o := range objs {
		out = append(out, fmt.Sprintf("%s %s", o.gvk, o.name))
	}
	return out
}

// TestStrictJSON: the decoder behind every manifest check refuses what the API server's strict field
// validation refuses, a field name in the wrong case included.
func TestStrictJSON(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		ok        bool
	}{
		{"known field", `{"spec":{"replicas":2}}`, true},
		{"unknown field", `{"spec":{"replicaz":2}}`, false},
		{"field in the wrong case", `{"spec":{"Replicas":2}}`, false},
		{"nested field in the wrong case", `{"spec":{"template":{"spec":{"containers":[{"name":"a","imagepullpolicy":"Always"}]}}}}`, false},
		{"duplicate field", `{"spec":{"replicas":2,"replicas":3}}`, false},
	} {
		err := strictJSON([]byte(tc.doc), &appsv1.Deployment{})
		if tc.ok {
			require.NoError(t, err, tc.name)
		} else {
			require.Error(t, err, tc.name)
		}
	}
}
