package charts_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	meshv1alpha1 "istio.io/api/mesh/v1alpha1"
	"sigs.k8s.io/yaml"
)

// fakeAPIServer answers the discovery requests `helm install --dry-run` makes before rendering (it
// checks that a cluster is reachable even in client mode): the version and empty API group lists,
// shaped as the API server sends them. Any other request fails the test.
func fakeAPIServer(t *testing.T) string {
	t.Helper()
	answers := map[string]any{
		"/version": map[string]string{"major": "1", "minor": "33", "gitVersion": "v1.33.0"},
		"/api":     map[string]any{"kind": "APIVersions", "versions": []string{"v1"}, "serverAddressByClientCIDRs": []any{}},
		"/apis":    map[string]any{"kind": "APIGroupList", "apiVersion": "v1", "groups": []any{}},
		"/api/v1":  map[string]any{"kind": "APIResourceList", "groupVersion": "v1", "resources": []any{}},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := answers[r.URL.Path]
		if !ok {
			t.Errorf("unexpected API request %s %s", r.Method, r.URL.Path)
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(a)
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	require.NoError(t, os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: fake, cluster: {server: "`+srv.URL+`"}}]
users: [{name: fake, user: {}}]
contexts: [{name: fake, context: {cluster: fake, user: fake}}]
current-context: fake
`), 0o600))
	return kubeconfig
}

// installNotes runs `helm install --dry-run` with a values file and returns the NOTES it prints.
func installNotes(t *testing.T, kubeconfig, valuesFile string) string {
	t.Helper()
	releases := filepath.Join(t.TempDir(), "releases.yaml")
	require.NoError(t, os.WriteFile(releases, nil, 0o600))
	env := append(helmEnv(t), "KUBECONFIG="+kubeconfig, "HELM_DRIVER=memory", "HELM_MEMORY_DRIVER_DATA="+releases)
	out, err := helm(t, env, "install", release, chartDir, "--dry-run", "--namespace", relNS,
		"--values", filepath.Join(chartDir, "ci", valuesFile))
	require.NoError(t, err)
	_, notes, ok := strings.Cut(out, "\nNOTES:\n")
	require.True(t, ok, "no NOTES in:\n%s", out)
	return notes
}

func TestInstallNotes(t *testing.T) {
	kubeconfig := fakeAPIServer(t)
	service := fullname + "." + relNS + ".svc.cluster.local"
	tests := []struct {
		file      string
		want      []string
		wantNot   []string
		meshEntry bool // NOTES hold a meshConfig snippet to check against Istio's MeshConfig type
	}{
		{"default-values.yaml", []string{service + ":9191", "http://" + service + ":4181/auth",
			"http://" + service + ":4181/oauth2/auth", "rollout status deployment/" + fullname},
			[]string{"NOT FOR", "meshConfig", "Traefik:", "ingress-nginx"}, false},
		{"istio-values.yaml", []string{`extension provider "authbridge"`}, []string{"Traefik:"}, true},
		{"traefik-values.yaml", []string{"traefik-" + fullname + "@kubernetescrd", "name: " + fullname + ", namespace: traefik"},
			[]string{"meshConfig"}, false},
		{"all-values.yaml", []string{"NOT FOR\nPRODUCTION",
			`nginx.ingress.kubernetes.io/auth-url: "http://` + service + `:4181/oauth2/auth"`,
			`nginx.ingress.kubernetes.io/auth-signin: "https://$host/oauth2/start?rd=$escaped_request_uri"`,
			`nginx.ingress.kubernetes.io/auth-response-headers: "Authorization,X-Auth-Request-User,X-Auth-Request-Email,Cookie"`},
			nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			notes := installNotes(t, kubeconfig, tt.file)
			for _, w := range tt.want {
				require.Contains(t, notes, w)
			}
			for _, w := range tt.wantNot {
				require.NotContains(t, notes, w)
			}
			require.NotContains(t, notes, "ci-client-secret-value")
			if tt.meshEntry {
				checkMeshConfig(t, notes, service)
			}
		})
	}
}

// checkMeshConfig decodes the printed meshConfig snippet into Istio's own MeshConfig type (protojson
// rejects unknown fields) and checks that the provider reaches authbridge's gRPC port.
func checkMeshConfig(t *testing.T, notes, service string) {
	t.Helper()
	_, snippet, ok := strings.Cut(notes, "meshConfig:\n")
	require.True(t, ok)
	snippet, _, _ = strings.Cut(snippet, "\n\n")
	j, err := yaml.YAMLToJSONStrict([]byte(snippet))
	require.NoError(t, err, snippet)
	var mc meshv1alpha1.MeshConfig
	require.NoError(t, protojson.Unmarshal(j, &mc), snippet)
	require.Len(t, mc.ExtensionProviders, 1)
	p := mc.ExtensionProviders[0]
	require.Equal(t, "authbridge", p.Name)
	grpc := p.GetEnvoyExtAuthzGrpc()
	require.NotNil(t, grpc, "the provider must be envoyExtAuthzGrpc")
	require.Equal(t, service, grpc.Service)
	require.Equal(t, uint32(9191), grpc.Port)
	require.False(t, grpc.FailOpen, "authbridge fails closed")
}
