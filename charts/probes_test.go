package charts_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/authbridge/authbridge/pkg/devidp"

	"github.com/authbridge/authbridge/internal/logbuf"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// checkProbesServe starts bin as the chart would (`serve --config` with the rendered ConfigMap and the
// mounted client secret) and asks it what the kubelet asks: the startup/liveness and readiness paths on
// the admin listener. Only the provider (the development IdP), the session store (memory: no Redis in
// the pod's absence) and the listen addresses (free ports) are overridden, through the environment.
func checkProbesServe(t *testing.T, bin string) {
	out, err := template(t, defaultValues)
	require.NoError(t, err)
	objs := decodeManifests(t, out)
	cm := one[*corev1.ConfigMap](t, objs, fullname)
	c := authbridgePod(t, objs).Containers[0]

	idpSrv := httptest.NewServer(nil)
	t.Cleanup(idpSrv.Close)
	idp, err := devidp.New(devidp.Options{
		Issuer:  idpSrv.URL + "/",
		Clients: []devidp.Client{{ID: "ci-client-id", Secret: "ci-client-secret-value", RedirectURIs: []string{"https://app.example.com/oauth2/callback"}}},
		Users:   []devidp.User{{Username: "alice", Password: "pw"}},
	})
	require.NoError(t, err)
	idpSrv.Config.Handler = idp.Handler()

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "client-secret"), []byte("ci-client-secret-value\n"), 0o600))
	cfgPath := filepath.Join(dir, "authbridge.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(strings.ReplaceAll(cm.Data["authbridge.yaml"], secretMnt, dir)), 0o600))

	admin := freeAddr(t)
	args := append([]string{}, c.Args...)
	args[len(args)-1] = cfgPath // serve --config <the ConfigMap's file>
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir,
		"AUTHBRIDGE_OIDC_ISSUER_URL=" + idpSrv.URL + "/",
		"AUTHBRIDGE_SESSION_STORE=memory",
		"AUTHBRIDGE_LISTEN_HTTP=" + freeAddr(t), "AUTHBRIDGE_LISTEN_GRPC=" + freeAddr(t), "AUTHBRIDGE_LISTEN_ADMIN=" + admin,
	}
	logs := &logbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})

	get := func(path string) int {
		resp, err := http.Get("http://" + admin + path)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Eventually(t, func() bool { return get(c.StartupProbe.HTTPGet.Path) == http.StatusOK },
		10*time.Second, 20*time.Millisecond, "startup probe never passed; logs:\n%s", logs)
	require.Equal(t, http.StatusOK, get(c.LivenessProbe.HTTPGet.Path), logs.String())
	require.Equal(t, http.StatusOK, get(c.ReadinessProbe.HTTPGet.Path), logs.String())
	require.NotContains(t, logs.String(), "ci-client-secret-value")
}
