package e2e_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/authbridge/authbridge/internal/testkit"
	"github.com/authbridge/authbridge/internal/toolbuild"
)

// process is one program the tests run: its output goes to a log file next to its other files.
type process struct {
	*testkit.Process
	name, logPath string
}

// startProcess runs argv in dir with exactly env (nothing is inherited).
func startProcess(name, dir string, env []string, argv ...string) (*process, error) {
	p, err := testkit.Start(name, dir, env, argv...)
	if err != nil {
		return nil, err
	}
	return &process{Process: p, name: name, logPath: p.LogPath()}, nil
}

// waitReady polls ready until it returns nil, the process exits, or testkit.StartTimeout passes.
func (p *process) waitReady(ready func() error) error { return p.WaitReady(ready) }

// stop asks the process to end (SIGTERM), kills it if it has not within a few seconds, and waits.
func (p *process) stop() { p.Stop() }

// log returns the process's output so far.
func (p *process) log() string { return p.Log() }

func (p *process) logTail() string { return p.LogTail() }

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago and that this test process has
// not handed out before, for programs that must be told their port before they start.
func freePort() (int, error) { return testkit.FreePort() }

// freePorts returns n distinct free ports, none handed out before.
func freePorts(n int) ([]int, error) { return testkit.FreePorts(n) }

// dialable reports whether something accepts connections on addr.
func dialable(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

// baseEnv is the environment handed to the programs the tests run: enough to find binaries and a home,
// and nothing of authbridge's own configuration.
func baseEnv(home string) []string {
	return []string{"PATH=" + os.Getenv("PATH") + ":/usr/sbin", "HOME=" + home, "XDG_CONFIG_HOME=" + home,
		"XDG_DATA_HOME=" + home, "TMPDIR=" + home}
}

// buildAuthbridge compiles ./cmd/authbridge into dir.
func buildAuthbridge(dir string) (string, error) {
	bin := filepath.Join(dir, "authbridge")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/authbridge")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build authbridge: %w\n%s", err, out)
	}
	return bin, nil
}

// The programs the tests build from the tool modules under e2e/ (each pins one program and its
// dependencies apart from authbridge's go.mod), once per pinned version, into the user's cache directory.
var (
	hydraTool = toolbuild.Tool{Name: "hydra", Dir: "tools", Module: "github.com/ory/hydra/v2", Pkg: "github.com/ory/hydra/v2",
		Flags: []string{"-tags", "sqlite,sqlite_omit_load_extension"}, Env: []string{"CGO_ENABLED=1"}}
	traefikTool = toolbuild.Tool{Name: "traefik", Dir: "traefik-tools", Module: "github.com/traefik/traefik/v3",
		Pkg: "github.com/traefik/traefik/v3/cmd/traefik", Flags: []string{"-trimpath"}, Env: []string{"CGO_ENABLED=0"}}
)

// traefikBinary is Traefik, built once per test process: the Traefik tests ask for it, and a build that
// failed is not tried again by the next one.
var traefikBinary = sync.OnceValues(traefikTool.Path)
