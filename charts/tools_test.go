// Package charts_test checks the Kubernetes packaging without a cluster: the Helm chart (lint, template,
// every object decoded strictly into its Kubernetes Go type or checked against its CRD schema), the
// plain-manifest kustomize base rendered from it, and the Dockerfile. helm and kustomize are built from
// the pinned module in charts/tools, once, into the user cache directory.
package charts_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

const (
	chartDir  = "authbridge" // the chart, relative to this package
	toolsDir  = "tools"      // the module pinning helm and kustomize
	repoRoot  = ".."         // the main module
	release   = "authbridge" // release name used for renders
	relNS     = "auth"       // release namespace used for renders
	fullname  = "authbridge" // the release's resource names, since the release name holds the chart name
	secretMnt = "/var/run/secrets/authbridge"
)

// tool is a binary built from charts/tools.
type tool struct {
	name  string // file name prefix in the cache
	pkg   string // package to build
	mod   string // module whose version names the binary
	stamp bool   // stamp helm's version variables, as helm's Makefile does
}

// The binaries are built once per test binary; the first build of helm takes minutes, after that
// buildTool is a stat of the cached file.
var (
	helmPath = sync.OnceValues(func() (string, error) {
		return buildTool(tool{"helm", "helm.sh/helm/v3/cmd/helm", "helm.sh/helm/v3", true})
	})
	kustomizePath = sync.OnceValues(func() (string, error) {
		return buildTool(tool{"kustomize", "sigs.k8s.io/kustomize/kustomize/v5", "sigs.k8s.io/kustomize/kustomize/v5", false})
	})
)

// toolPath returns the path of a built tool or fails the test.
func toolPath(t *testing.T, build func() (string, error)) string {
	t.Helper()
	p, err := build()
	require.NoError(t, err)
	return p
}

// moduleVersions reads the versions pinned in charts/tools/go.mod.
func moduleVersions(paths ...string) (map[string]string, error) {
	cmd := exec.Command("go", append([]string{"list", "-m", "-json"}, paths...)...)
	cmd.Dir = toolsDir
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("list tool modules: %w: %s", err, stderrOf(err))
	}
	vs := map[string]string{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var m struct{ Path, Version string }
		if err := dec.Decode(&m); err != nil {
			return nil, fmt.Errorf("decode go list: %w", err)
		}
		vs[m.Path] = m.Version
	}
	return vs, nil
}

func buildTool(tl tool) (string, error) {
	vs, err := moduleVersions(tl.mod, "k8s.io/client-go")
	if err != nil {
		return "", err
	}
	name := tl.name + "-" + vs[tl.mod]
	var ldflags string
	if tl.stamp {
		// helm assumes this Kubernetes version without a cluster (client-go v0.X → 1.X); unstamped,
		// helm template would claim Kubernetes 1.20 and refuse the chart's kubeVersion.
		k8sMinor := strings.Split(strings.TrimPrefix(vs["k8s.io/client-go"], "v"), ".")[1]
		ldflags = fmt.Sprintf("-X helm.sh/helm/v3/internal/version.version=%[1]s "+
			"-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=%[2]s "+
			"-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=%[2]s",
			vs[tl.mod], k8sMinor)
		name += "-k8s1." + k8sMinor
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find cache dir: %w", err)
	}
	dst := filepath.Join(cache, "authbridge", name)
	if _, err := os.Stat(dst); err == nil {
		return dst, nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", fmt.Errorf("create cache dir: %w", err)
	}
	// Build next to dst and rename, so a concurrent or interrupted build never leaves half a binary.
	tmp := fmt.Sprintf("%s.tmp%d", dst, os.Getpid())
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", ldflags, "-o", tmp, tl.pkg)
	cmd.Dir = toolsDir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s: %w: %s", tl.name, err, out)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return "", fmt.Errorf("install %s: %w", tl.name, err)
	}
	return dst, nil
}

// helmEnv isolates helm from the user's own repositories, plugins and cluster.
func helmEnv(t *testing.T) []string {
	home := t.TempDir()
	return append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
		"KUBECONFIG="+filepath.Join(home, "no-kubeconfig"),
	)
}

// helm runs helm with args and returns its stdout; a failure returns stderr in the error.
func helm(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(toolPath(t, helmPath), args...)
	if env == nil {
		env = helmEnv(t)
	}
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("helm %s: %w: %s", strings.Join(args, " "), err, stderrOf(err))
	}
	return string(out), nil
}

// template renders the chart as release authbridge in namespace auth with the given values files and
// extra flags (e.g. --set).
func template(t *testing.T, valuesFiles []string, extra ...string) (string, error) {
	t.Helper()
	args := []string{"template", release, chartDir, "--namespace", relNS}
	for _, f := range valuesFiles {
		args = append(args, "--values", f)
	}
	return helm(t, nil, append(args, extra...)...)
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return strings.TrimSpace(string(ee.Stderr))
	}
	return ""
}
