package e2e_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/authbridge/authbridge/internal/testkit"
)

// process is one program the tests run: its output goes to a log file next to its other files.
type process struct{ *testkit.Process }

// startProcess runs argv in dir with exactly env (nothing is inherited).
func startProcess(name, dir string, env []string, argv ...string) (*process, error) {
	p, err := testkit.Start(name, dir, env, argv...)
	if err != nil {
		return nil, err
	}
	return &process{p}, nil
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

// hydraBinary returns Ory Hydra built from the tool module in ./tools. The build is slow (minutes on a cold
// Go cache), so the binary is kept in the user's cache directory under a name derived from the tool
// module's go.mod and go.sum, and rebuilt only when those change.
func hydraBinary() (string, error) {
	mod, err := os.ReadFile(filepath.Join("tools", "go.mod"))
	if err != nil {
		return "", fmt.Errorf("read tool module: %w", err)
	}
	sum, err := os.ReadFile(filepath.Join("tools", "go.sum"))
	if err != nil {
		return "", fmt.Errorf("read tool module: %w", err)
	}
	version := "unknown"
	for _, line := range strings.Split(string(mod), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "github.com/ory/hydra/v2" {
			version = f[1]
		}
	}
	h := sha256.Sum256(append(mod, sum...))
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find cache dir: %w", err)
	}
	bin := filepath.Join(cache, "authbridge", "hydra-"+version+"-"+hex.EncodeToString(h[:8]))
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() {
		return bin, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("look for cached hydra: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", fmt.Errorf("create cache dir: %w", err)
	}
	fmt.Fprintf(os.Stderr, "e2e: building Ory Hydra %s into %s (once; minutes on a cold Go cache)\n", version, bin)
	tmp := fmt.Sprintf("%s.tmp%d", bin, os.Getpid())
	cmd := exec.Command("go", "build", "-tags", "sqlite,sqlite_omit_load_extension", "-o", tmp, "github.com/ory/hydra/v2")
	cmd.Dir = "tools"
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("build hydra: %w\n%s", err, out)
	}
	// Renamed into place only when complete, so a concurrent or interrupted run never sees half a binary.
	if err := os.Rename(tmp, bin); err != nil {
		return "", fmt.Errorf("install hydra: %w", err)
	}
	return bin, nil
}
