package charts_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
)

// TestGrafanaDashboardConfigMap: grafanaDashboard.enabled renders one ConfigMap with the sidecar's label
// whose dashboard is byte for byte deploy/grafana/authbridge.json; off by default.
func TestGrafanaDashboardConfigMap(t *testing.T) {
	want, err := os.ReadFile(filepath.Join(repoRoot, "deploy", "grafana", "authbridge.json"))
	require.NoError(t, err)
	defaults := []string{filepath.Join(chartDir, "ci", "default-values.yaml")}
	stream, err := template(t, defaults, "--set", "grafanaDashboard.enabled=true")
	require.NoError(t, err, stream)
	cm := one[*corev1.ConfigMap](t, decodeManifests(t, stream), fullname+"-dashboard")
	require.Equal(t, "1", cm.Labels["grafana_dashboard"])
	require.Equal(t, relNS, cm.Namespace)
	require.Equal(t, string(want), cm.Data["authbridge.json"]+"\n", "the chart ships the same dashboard as deploy/grafana")

	stream, err = template(t, defaults, "--set", "grafanaDashboard.enabled=true", "--set", "grafanaDashboard.namespace=monitoring")
	require.NoError(t, err, stream)
	require.Equal(t, "monitoring", one[*corev1.ConfigMap](t, decodeManifests(t, stream), fullname+"-dashboard").Namespace)

	stream, err = template(t, defaults)
	require.NoError(t, err, stream)
	for _, k := range kinds(decodeManifests(t, stream)) {
		require.NotEqual(t, "v1/ConfigMap authbridge-dashboard", k, "off by default")
	}
}
