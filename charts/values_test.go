package charts_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	yamlv3 "go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"

	"github.com/authbridge/authbridge/pkg/config"
)

var defaultValues = []string{filepath.Join(chartDir, "ci", "default-values.yaml")}

// TestSchemaRejectsMisspeltKeys: a typo anywhere in the values stops helm instead of being ignored.
func TestSchemaRejectsMisspeltKeys(t *testing.T) {
	tests := []struct {
		name    string
		set     string
		wantErr string // "" means the render must succeed
	}{
		{"control: a known key", "replicaCount=3", ""},
		{"top level", "replicaCont=3", "replicaCont"},
		{"chart section", "podDisruptionBudget.maxUnavailabel=1", "maxUnavailabel"},
		{"config key", "config.oidc.issuer_ur=https://x.example/", "issuer_ur"},
		{"nested config key", "config.session.cookie.domian=example.com", "domian"},
		{"secret in the config", "config.oidc.client_secret=oops", "client_secret"},
		{"listen is the chart's", "config.listen.http=:8080", "listen"},
		{"secret block", "clientSecret.vaule=x", "vaule"},
		{"enum", "config.session.store=memcached", "memcached"},
		{"duration", "config.session.idle_timeout=1 day", "idle_timeout"},
		{"port type", "ports.http=http", "http"},
		{"redis tls key", "config.session.redis.tls.ca_fle=/ca.crt", "ca_fle"},
		{"relative extra mount", "extraVolumeMounts[0].name=ca,extraVolumeMounts[0].mountPath=etc/ca", "mountPath"},
		{"extra volume without a name", "extraVolumes[0].secret.secretName=ca", "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := template(t, defaultValues, "--set", tt.set)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.Contains(t, err.Error(), "schema")
			require.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

// TestTemplateRefusesBrokenSettings: combinations the binary would crash-loop on fail at install, with
// a message naming the value to change.
func TestTemplateRefusesBrokenSettings(t *testing.T) {
	tests := []struct {
		name    string
		set     []string
		wantErr string
	}{
		{"no issuer", []string{"config.oidc.issuer_url="}, "config.oidc.issuer_url is required"},
		{"no client id", []string{"config.oidc.client_id="}, "config.oidc.client_id is required"},
		{"no redis", []string{"config.session.redis.url="}, "config.session.redis.url"},
		{"memory store with two replicas", []string{"config.session.store=memory"}, "replicaCount 1"},
		{"trial redis and an external one", []string{"redis.enabled=true"}, "redis.enabled"},
		{"secret inline and existing", []string{"clientSecret.existingSecret=mine"}, "oidc.client_secret_file: set value or existingSecret"},
		{"ingress without hosts", []string{"ingress.enabled=true"}, "ingress.hosts"},
		{"istio selector and targetRefs", []string{"istio.authorizationPolicy.enabled=true",
			"istio.authorizationPolicy.selector.app=x", "istio.authorizationPolicy.targetRefs[0].kind=Gateway"}, "not both"},
		{"grace shorter than preStop plus the drain", []string{"terminationGracePeriodSeconds=18"}, "terminationGracePeriodSeconds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var args []string
			for _, s := range tt.set {
				args = append(args, "--set", s)
			}
			_, err := template(t, defaultValues, args...)
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.wantErr)
			require.NotContains(t, err.Error(), "ci-client-secret-value")
		})
	}
	t.Run("memory store with one replica renders", func(t *testing.T) {
		_, err := template(t, defaultValues, "--set", "config.session.store=memory,config.session.redis.url=,replicaCount=1")
		require.NoError(t, err)
	})
}

// chartOwned are config keys the chart sets itself rather than taking from values.config.
func chartOwned() map[string]bool {
	owned := map[string]bool{"listen.http": true, "listen.forward_auth": true, "listen.grpc": true, "listen.admin": true}
	for _, k := range config.Reference() {
		if k.Kind == "secret" {
			owned[k.Key], owned[k.Key+"_file"] = true, true
		}
	}
	return owned
}

// chartSecrets maps each secret config key to the values block that feeds its *_file key.
var chartSecrets = map[string]string{
	"oidc.client_secret": "clientSecret", "session.redis.password": "redisPassword", "admin.token": "adminToken",
	"session.cookie.secret": "cookieSecret",
}

// TestValuesFollowTheBinary keeps values.yaml and values.schema.json in step with pkg/config: every key
// of the binary is either accepted under config (with the binary's default in values.yaml) or set by
// the chart, and every secret has a values block.
func TestValuesFollowTheBinary(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(chartDir, "values.schema.json"))
	require.NoError(t, err)
	var schema map[string]any
	require.NoError(t, json.Unmarshal(b, &schema))
	top := schema["properties"].(map[string]any)
	inSchema := map[string]bool{}
	flattenSchema(top["config"].(map[string]any), "", inSchema)

	b, err = os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	require.NoError(t, err)
	var values struct{ Config map[string]any }
	require.NoError(t, yaml.Unmarshal(b, &values))
	inValues := map[string]string{}
	flattenValues(values.Config, "", inValues)
	// The binary's defaults, read from config.Default() itself rather than from Reference's text.
	b, err = yamlv3.Marshal(config.Default())
	require.NoError(t, err)
	var def map[string]any
	require.NoError(t, yamlv3.Unmarshal(b, &def))
	defaults := map[string]string{}
	flattenValues(def, "", defaults)

	owned := chartOwned()
	var want []string
	for _, k := range config.Reference() {
		if owned[k.Key] {
			require.False(t, inSchema[k.Key], "%s is set by the chart; the schema must not accept it under config", k.Key)
			if k.Kind == "secret" {
				require.Contains(t, top, chartSecrets[k.Key], "secret %s needs a values block (and an entry in chartSecrets and the chart's authbridge.secrets)", k.Key)
			}
			continue
		}
		want = append(want, k.Key)
		got, ok := inValues[k.Key]
		require.True(t, ok, "values.yaml config lacks %s (default %q)", k.Key, defaults[k.Key])
		if k.Key == "session.cookie.name" {
			require.Empty(t, got, "empty lets the binary pick the name that fits the domain")
			continue
		}
		wantDef := defaults[k.Key]
		if d1, err1 := time.ParseDuration(got); err1 == nil && k.Kind == "duration" {
			d2, err2 := time.ParseDuration(wantDef)
			require.NoError(t, err2)
			require.Equal(t, d2, d1, "values.yaml default of %s", k.Key)
			continue
		}
		require.Equal(t, wantDef, got, "values.yaml default of %s", k.Key)
	}
	require.ElementsMatch(t, want, keys(inSchema), "values.schema.json config keys vs pkg/config")
	require.ElementsMatch(t, want, keysOf(inValues), "values.yaml config keys vs pkg/config")
}

// TestValuesAreDocumented: every value in values.yaml carries a comment, except the fields of
// Kubernetes objects passed through whole (resources, security contexts, probe timings), whose key is
// commented instead.
func TestValuesAreDocumented(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	require.NoError(t, err)
	var doc yamlv3.Node
	require.NoError(t, yamlv3.Unmarshal(b, &doc))
	passthrough := map[string]bool{"resources": true, "podSecurityContext": true, "securityContext": true,
		"startup": true, "readiness": true, "liveness": true}
	var undocumented []string
	var walk func(m *yamlv3.Node, path string)
	walk = func(m *yamlv3.Node, path string) {
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i], m.Content[i+1]
			key := path + k.Value
			if k.HeadComment == "" && k.LineComment == "" && (v.Kind != yamlv3.MappingNode || len(v.Content) == 0) {
				undocumented = append(undocumented, key)
			}
			if v.Kind == yamlv3.MappingNode && !passthrough[k.Value] {
				walk(v, key+".")
			}
		}
	}
	walk(doc.Content[0], "")
	require.Empty(t, undocumented, "values without a comment")
}

// flattenSchema collects the leaf keys of a schema: scalars, arrays and string maps.
func flattenSchema(s map[string]any, prefix string, out map[string]bool) {
	props, ok := s["properties"].(map[string]any)
	if !ok {
		out[strings.TrimSuffix(prefix, ".")] = true
		return
	}
	for k, v := range props {
		flattenSchema(v.(map[string]any), prefix+k+".", out)
	}
}

// flattenValues renders each leaf value in the syntax of config.KeyDoc.Default.
func flattenValues(m map[string]any, prefix string, out map[string]string) {
	for k, v := range m {
		key := prefix + k
		switch val := v.(type) {
		case map[string]any:
			if key == "oidc.extra_auth_params" {
				var kv []string
				for mk, mv := range val {
					kv = append(kv, fmt.Sprintf("%s=%v", mk, mv))
				}
				sort.Strings(kv)
				out[key] = strings.Join(kv, ",")
				continue
			}
			flattenValues(val, key+".", out)
		case []any:
			var items []string
			for _, x := range val {
				items = append(items, fmt.Sprint(x))
			}
			out[key] = strings.Join(items, ",")
		default:
			out[key] = fmt.Sprint(val)
		}
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func keysOf(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestChecksumsRollPods: a config or secret change changes the pod template, anything else does not.
// The cookie secret is set: a generated one is kept across upgrades by lookup in a cluster, but is new in
// every render without one, as here.
func TestChecksumsRollPods(t *testing.T) {
	annotations := func(t *testing.T, set ...string) map[string]string {
		args := []string{"--set", "cookieSecret.value=" + strings.Repeat("c", 40)}
		for _, s := range set {
			args = append(args, "--set", s)
		}
		out, err := template(t, defaultValues, args...)
		require.NoError(t, err)
		a := one[*appsv1.Deployment](t, decodeManifests(t, out), fullname).Spec.Template.Annotations
		require.NotEmpty(t, a["checksum/config"])
		require.NotEmpty(t, a["checksum/secret"])
		return a
	}
	base := annotations(t)
	tests := []struct {
		name                      string
		set                       string
		wantConfigRoll, wantRoll2 bool // checksum/config, checksum/secret changed
	}{
		{"config change", "config.log.level=warn", true, false},
		{"chart-owned config change", "ports.http=8080", true, false},
		{"secret change", "clientSecret.value=rotated", false, true},
		{"cookie secret rotated", "cookieSecret.value=" + strings.Repeat("n", 40) + `\,` + strings.Repeat("c", 40), false, true}, // --set needs the comma escaped
		{"unrelated change", "replicaCount=3", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := annotations(t, tt.set)
			require.Equal(t, tt.wantConfigRoll, got["checksum/config"] != base["checksum/config"], "checksum/config")
			require.Equal(t, tt.wantRoll2, got["checksum/secret"] != base["checksum/secret"], "checksum/secret")
		})
	}
}
