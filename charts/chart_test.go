package charts_test

import (
	"encoding/base64"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/authbridge/authbridge/pkg/config"
)

// ciValues are the values files under charts/authbridge/ci, each with the objects it must render
// besides the ones every install has (ConfigMap, Deployment, Service, ServiceAccount, PDB).
var ciValues = []struct {
	file     string
	wantMore []string // apiVersion/kind name
}{
	{"default-values.yaml", []string{"v1/Secret authbridge"}},
	{"sentinel-values.yaml", nil},
	{"istio-values.yaml", []string{"v1/Secret authbridge", "security.istio.io/v1/AuthorizationPolicy authbridge"}},
	{"traefik-values.yaml", []string{"v1/Secret authbridge", "traefik.io/v1alpha1/Middleware authbridge"}},
	{"private-ca-values.yaml", []string{"v1/Secret authbridge"}},
	{"all-values.yaml", []string{
		"v1/Secret authbridge", "apps/v1/Deployment authbridge-redis", "v1/Service authbridge-redis",
		"autoscaling/v2/HorizontalPodAutoscaler authbridge", "networking.k8s.io/v1/NetworkPolicy authbridge",
		"networking.k8s.io/v1/NetworkPolicy authbridge-redis", "networking.k8s.io/v1/Ingress authbridge",
		"security.istio.io/v1/AuthorizationPolicy authbridge", "traefik.io/v1alpha1/Middleware authbridge",
		"monitoring.coreos.com/v1/ServiceMonitor authbridge", "v1/ConfigMap authbridge-dashboard",
	}},
}

var alwaysRendered = []string{
	"v1/ConfigMap authbridge", "apps/v1/Deployment authbridge", "v1/Service authbridge",
	"v1/ServiceAccount authbridge", "policy/v1/PodDisruptionBudget authbridge",
}

func TestCIValuesLintAndRender(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join(chartDir, "ci"))
	require.NoError(t, err)
	var files []string
	for _, e := range entries {
		files = append(files, e.Name())
	}
	var listed []string
	for _, c := range ciValues {
		listed = append(listed, c.file)
	}
	require.ElementsMatch(t, files, listed, "every ci values file needs an entry in ciValues")

	for _, c := range ciValues {
		t.Run(c.file, func(t *testing.T) {
			t.Parallel()
			values := filepath.Join(chartDir, "ci", c.file)
			out, err := helm(t, nil, "lint", "--strict", chartDir, "--namespace", relNS, "--values", values)
			require.NoError(t, err, out)
			stream, err := template(t, []string{values})
			require.NoError(t, err)
			objs := decodeManifests(t, stream)
			require.ElementsMatch(t, append(slices.Clone(alwaysRendered), c.wantMore...), kinds(objs))

			secrets := inlineSecrets(t, values)
			if generated := generatedCookieSecret(t, objs); generated != "" {
				require.Empty(t, secrets["cookie-secret"], "a given cookie secret is used as given")
				require.Len(t, generated, 48, "the chart generates a cookie secret when none is given")
				secrets["cookie-secret"] = generated
			}
			checkSecretsStayOut(t, objs, secrets)
			checkConfigLoads(t, one[*corev1.ConfigMap](t, objs, fullname), authbridgePod(t, objs), secrets)
			checkWorkloads(t, objs)
			checkWiring(t, objs)
		})
	}
}

// inlineSecrets returns the secret values a values file gives inline, by the file the chart mounts.
func inlineSecrets(t *testing.T, valuesFile string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(valuesFile)
	require.NoError(t, err)
	type secret struct{ Value string }
	var v struct{ ClientSecret, RedisPassword, AdminToken, CookieSecret secret }
	require.NoError(t, yaml.Unmarshal(b, &v))
	out := map[string]string{}
	for file, s := range map[string]string{
		"client-secret": v.ClientSecret.Value, "redis-password": v.RedisPassword.Value, "admin-token": v.AdminToken.Value,
		"cookie-secret": v.CookieSecret.Value,
	} {
		if s != "" {
			out[file] = s
		}
	}
	return out
}

// generatedCookieSecret returns the cookie secret in the chart's Secret when the values gave none.
func generatedCookieSecret(t *testing.T, objs []object) string {
	t.Helper()
	for _, s := range find[*corev1.Secret](objs) {
		if v := string(s.Data["cookie-secret"]); v != "" && !strings.HasPrefix(v, "ci-cookie-secret") {
			return v
		}
	}
	return ""
}

// checkSecretsStayOut asserts that secrets reach the pod only through the Secret: never in a
// ConfigMap, an environment variable, an annotation or any other object, raw or base64-encoded.
func checkSecretsStayOut(t *testing.T, objs []object, secrets map[string]string) {
	t.Helper()
	for _, o := range objs {
		for file, s := range secrets {
			enc := base64.StdEncoding.EncodeToString([]byte(s))
			if sec, ok := o.typed.(*corev1.Secret); ok {
				require.Equal(t, s, string(sec.Data[file]), "Secret %s key %s", sec.Name, file)
				continue
			}
			// Not require.NotContains: its message would print the secret.
			require.False(t, strings.Contains(string(o.json), s), "%s %s holds the %s", o.gvk, o.name, file)
			require.False(t, strings.Contains(string(o.json), enc), "%s %s holds the %s base64-encoded", o.gvk, o.name, file)
		}
	}
}

// checkConfigLoads feeds the rendered ConfigMap to the binary's own config loader, with the secret
// files where the pod would have them and the container's environment, and checks that what the
// binary then listens on is what the chart exposes.
func checkConfigLoads(t *testing.T, cm *corev1.ConfigMap, pod corev1.PodSpec, secrets map[string]string) {
	t.Helper()
	c := pod.Containers[0]
	require.Equal(t, []string{"serve", "--config", "/etc/authbridge/authbridge.yaml"}, c.Args)
	require.Len(t, cm.Data, 1)
	body, ok := cm.Data["authbridge.yaml"]
	require.True(t, ok)

	dir := t.TempDir()
	// Every *_file key must name a file of the projected Secret volume.
	mounted := map[string]bool{}
	for _, v := range pod.Volumes {
		if v.Projected == nil {
			continue
		}
		for _, src := range v.Projected.Sources {
			for _, item := range src.Secret.Items {
				mounted[item.Path] = true
				val := secrets[item.Path]
				if val == "" {
					val = "value-from-an-existing-secret-0123456789" // long enough for any secret
				}
				require.NoError(t, os.WriteFile(filepath.Join(dir, item.Path), []byte(val+"\n"), 0o600))
			}
		}
	}
	tlsMounts := tlsFileMounts(t, pod)
	for _, line := range strings.Split(body, "\n") {
		if key, path, ok := strings.Cut(line, "_file: "); ok {
			if tlsKey(key) != "" {
				if path == `""` {
					continue // not set
				}
				require.NotEmpty(t, tlsMounts.dir(path), "%s is not under an extraVolumeMounts path", path)
				continue
			}
			require.True(t, strings.HasPrefix(path, secretMnt+"/"), line)
			require.True(t, mounted[strings.TrimPrefix(path, secretMnt+"/")], "%s is not mounted", path)
		}
	}
	body = tlsMounts.fill(t, body)
	path := filepath.Join(dir, "authbridge.yaml")
	require.NoError(t, os.WriteFile(path, []byte(strings.ReplaceAll(body, secretMnt, dir)), 0o600))
	env := []string{} // not nil: Load would read the test's own environment
	for _, e := range c.Env {
		env = append(env, e.Name+"="+e.Value)
	}
	cfg, err := config.Load(path, env)
	require.NoError(t, err, "the binary refuses the chart's config")
	if s, ok := secrets["client-secret"]; ok {
		require.Equal(t, s, cfg.OIDC.ClientSecret.Reveal())
	}

	ports := containerPorts(c)
	for name, addr := range map[string]string{"http": cfg.Listen.HTTP, "forward-auth": cfg.Listen.ForwardAuth, "grpc": cfg.Listen.GRPC, "admin": cfg.Listen.Admin} {
		_, port, err := net.SplitHostPort(addr)
		require.NoError(t, err)
		require.Equal(t, port, ports[name], "container port %s vs listen.%s", name, name)
	}
}

// TestPortsAreTheBinaryDefaults pins the chart's ports to the binary's defaults, so that the plain
// manifests, the NOTES and the README's gateway snippets agree with a binary run without listen.*.
func TestPortsAreTheBinaryDefaults(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	require.NoError(t, err)
	var v struct{ Ports map[string]int }
	require.NoError(t, yaml.Unmarshal(b, &v))
	def := config.Default().Listen
	for name, addr := range map[string]string{"http": def.HTTP, "forwardAuth": def.ForwardAuth, "grpc": def.GRPC, "admin": def.Admin} {
		_, port, err := net.SplitHostPort(addr)
		require.NoError(t, err)
		require.Equal(t, port, itoa(v.Ports[name]), "ports.%s", name)
	}
}
