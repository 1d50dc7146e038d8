package charts_test

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	sigsyaml "sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite deploy/kubernetes from the chart")

const (
	baseDir    = "../deploy/kubernetes"
	baseNS     = "authbridge"
	baseHeader = "# Generated from charts/authbridge with chart-values.yaml by\n" +
		"#   go test ./charts -run TestKustomizeBase -update\n# Do not edit; change the chart or chart-values.yaml.\n"
)

// TestKustomizeBase keeps deploy/kubernetes equal to the chart rendered with chart-values.yaml, and
// checks that `kustomize build` of it yields the same objects, decoded strictly.
func TestKustomizeBase(t *testing.T) {
	stream, err := helm(t, nil, "template", release, chartDir, "--namespace", baseNS,
		"--values", filepath.Join(baseDir, "chart-values.yaml"))
	require.NoError(t, err)
	want := baseFiles(t, stream)

	if *update {
		for name, body := range want {
			require.NoError(t, os.WriteFile(filepath.Join(baseDir, name), []byte(body), 0o644))
		}
	}
	for name, body := range want {
		got, err := os.ReadFile(filepath.Join(baseDir, name))
		require.NoError(t, err, "run: go test ./charts -run TestKustomizeBase -update")
		require.Equal(t, body, string(got), "%s is stale; run: go test ./charts -run TestKustomizeBase -update", name)
	}

	var k struct {
		APIVersion, Kind, Namespace string
		Resources                   []string
		ConfigMapGenerator          []struct {
			Name  string
			Files []string
		} `json:"configMapGenerator"`
	}
	b, err := os.ReadFile(filepath.Join(baseDir, "kustomization.yaml"))
	require.NoError(t, err)
	require.NoError(t, sigsyaml.UnmarshalStrict(b, &k))
	require.Equal(t, baseNS, k.Namespace)
	var resources []string
	for name := range want {
		if name != "authbridge.yaml" {
			resources = append(resources, name)
		}
	}
	require.ElementsMatch(t, resources, k.Resources, "kustomization.yaml resources vs the rendered objects")
	require.Len(t, k.ConfigMapGenerator, 1)
	require.Equal(t, fullname, k.ConfigMapGenerator[0].Name)
	require.Equal(t, []string{"authbridge.yaml"}, k.ConfigMapGenerator[0].Files)

	cmd := exec.Command(toolPath(t, kustomizePath), "build", baseDir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, stderr.String())
	objs := decodeManifests(t, string(out))
	checkWorkloads(t, objs)
	checkWiring(t, objs)

	cms := find[*corev1.ConfigMap](objs)
	require.Len(t, cms, 1)
	require.Regexp(t, `^authbridge-[a-z0-9]{10}$`, cms[0].Name, "the generated name carries a content hash")
	require.Equal(t, want["authbridge.yaml"], cms[0].Data["authbridge.yaml"])
	dep := one[*appsv1.Deployment](t, objs, fullname)
	checkConfigLoads(t, cms[0], dep.Spec.Template.Spec, nil)
	require.True(t, slices.ContainsFunc(dep.Spec.Template.Spec.Volumes, func(v corev1.Volume) bool {
		return v.ConfigMap != nil && v.ConfigMap.Name == cms[0].Name
	}), "the Deployment mounts the generated ConfigMap")
	for _, o := range objs {
		require.Equal(t, baseNS, o.ns, "%s %s", o.gvk, o.name)
	}
}

// baseFiles turns the rendered chart into the base's files: one file per object, named after its kind,
// and the config file for kustomize's configMapGenerator in place of the ConfigMap (its hashed name
// replaces the checksum annotation). Helm's own labels go.
func baseFiles(t *testing.T, stream string) map[string]string {
	t.Helper()
	files := map[string]string{}
	for _, doc := range docSeparator.Split(stream, -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		var root yaml.Node
		require.NoError(t, yaml.Unmarshal([]byte(doc), &root))
		obj := root.Content[0]
		kind := lookup(obj, "kind").Value
		if kind == "ConfigMap" {
			files["authbridge.yaml"] = baseHeader + lookup(lookup(obj, "data"), "authbridge.yaml").Value
			continue
		}
		// helm's "# Source:" line
		root.HeadComment = ""
		obj.Content[0].HeadComment = strings.TrimPrefix(obj.Content[0].HeadComment, "# Source: authbridge/templates/"+strings.ToLower(kind)+".yaml")
		for _, labels := range []*yaml.Node{lookup(lookup(obj, "metadata"), "labels"),
			lookup(lookup(lookup(lookup(obj, "spec"), "template"), "metadata"), "labels")} {
			deleteKey(labels, "helm.sh/chart")
			if mb := lookup(labels, "app.kubernetes.io/managed-by"); mb != nil {
				mb.Value = "kustomize"
			}
		}
		podMeta := lookup(lookup(lookup(obj, "spec"), "template"), "metadata")
		if ann := lookup(podMeta, "annotations"); ann != nil {
			deleteKey(ann, "checksum/config")
			if len(ann.Content) == 0 {
				deleteKey(podMeta, "annotations")
			}
		}
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		require.NoError(t, enc.Encode(obj))
		name := strings.ToLower(kind) + ".yaml"
		require.NotContains(t, files, name, "two %s objects: give them their own file names", kind)
		files[name] = baseHeader + buf.String()
	}
	return files
}

// lookup returns the value of key in mapping node m, or nil.
func lookup(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func deleteKey(m *yaml.Node, key string) {
	if m == nil {
		return
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}
