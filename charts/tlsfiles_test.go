package charts_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/authbridge/authbridge/internal/testca"
)

// tlsKey returns which PEM file a config line's key (the text before "_file: ") names: "ca", "cert",
// "key", or "" for a secret file.
func tlsKey(key string) string {
	switch k := strings.TrimSpace(key); k {
	case "ca", "cert", "key":
		return k
	}
	return ""
}

// mountedDirs are the container's extraVolumeMounts paths, each backed by a pod volume, with the
// directory that stands in for it when the config is loaded here.
type mountedDirs map[string]string // mountPath → local directory

// tlsFileMounts returns the authbridge container's mounts other than the chart's own (config, secrets),
// checking that each names a volume of the pod.
func tlsFileMounts(t *testing.T, pod corev1.PodSpec) mountedDirs {
	t.Helper()
	volumes := map[string]bool{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = true
	}
	out := mountedDirs{}
	mounts := pod.Containers[0].VolumeMounts
	for i, a := range mounts {
		for _, b := range mounts[i+1:] {
			// A volume mounted inside another (e.g. inside the config's /etc/authbridge) hides files or
			// needs a mount point in a read-only volume.
			inside := func(x, y string) bool { return strings.HasPrefix(x+"/", strings.TrimSuffix(y, "/")+"/") }
			require.False(t, inside(a.MountPath, b.MountPath) || inside(b.MountPath, a.MountPath),
				"mounts %s (%s) and %s (%s) nest", a.Name, a.MountPath, b.Name, b.MountPath)
		}
	}
	for _, m := range mounts {
		require.True(t, volumes[m.Name], "mount %s names no volume of the pod", m.Name)
		if m.Name != "config" && m.Name != "secrets" {
			require.True(t, m.ReadOnly, "mount %s is read-only", m.Name)
			out[m.MountPath] = t.TempDir()
		}
	}
	return out
}

// dir returns the mount path that holds path, or "".
func (d mountedDirs) dir(path string) string {
	for mnt := range d {
		if strings.HasPrefix(path, strings.TrimSuffix(mnt, "/")+"/") {
			return mnt
		}
	}
	return ""
}

// fill writes, for every TLS file the config names, a real PEM file of one test CA into the directory
// standing in for its mount, and returns the config with the mount paths replaced by those directories.
func (d mountedDirs) fill(t *testing.T, body string) string {
	t.Helper()
	if len(d) == 0 {
		return body
	}
	ca := testca.New(t, "chart CA")
	cli := ca.Client(t, "authbridge")
	src := map[string]string{"ca": ca.CAFile, "cert": cli.CertFile, "key": cli.KeyFile}
	for _, line := range strings.Split(body, "\n") {
		key, path, ok := strings.Cut(line, "_file: ")
		if !ok || tlsKey(key) == "" || path == `""` {
			continue
		}
		mnt := d.dir(path)
		b, err := os.ReadFile(src[tlsKey(key)])
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(d[mnt], strings.TrimPrefix(path, mnt)), b, 0o600))
	}
	for mnt, local := range d {
		body = strings.ReplaceAll(body, mnt, local)
	}
	return body
}
