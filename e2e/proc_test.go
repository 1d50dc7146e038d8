package e2e_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/authbridge/authbridge/internal/toolbuild"
)

// startTimeout bounds how long a started process may take to become ready.
const startTimeout = 30 * time.Second

// process is one program the tests run: its output goes to a log file next to its other files.
type process struct {
	name    string
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	logPath string
}

// startProcess runs argv in dir with exactly env (nothing is inherited).
func startProcess(name, dir string, env []string, argv ...string) (*process, error) {
	logPath := filepath.Join(dir, name+".log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s log: %w", name, err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("run %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, done: make(chan struct{}), logPath: logPath}
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// waitReady polls ready until it returns nil, the process exits, or startTimeout passes.
func (p *process) waitReady(ready func() error) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(startTimeout)
	var err error
	for {
		if err = ready(); err == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before it was ready: %w\n%s", p.name, err, p.logTail())
		case <-deadline:
			p.stop()
			return fmt.Errorf("%s not ready within %s: %w\n%s", p.name, startTimeout, err, p.logTail())
		case <-tick.C:
		}
	}
}

// stop asks the process to end (SIGTERM), kills it if it has not within a few seconds, and waits.
// Stopping a stopped process does nothing.
func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// log returns the process's output so far.
func (p *process) log() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}

func (p *process) logTail() string {
	s := p.log()
	if len(s) > 3000 {
		s = "..." + s[len(s)-3000:]
	}
	return p.name + " log:\n" + s
}

// handedOut holds every port freePort and freePorts gave this test process: a port is handed out once,
// so that a port reserved for one program (Caddy's, told before authbridge starts) is never picked again
// for another while it is not yet bound (the kernel reuses a just-closed ephemeral port readily).
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago and that this process has not
// handed out before, for programs that must be told their port before they start.
func freePort() (int, error) {
	ports, err := freePorts(1)
	if err != nil {
		return 0, err
	}
	return ports[0], nil
}

// freePorts returns n distinct free ports, none handed out before.
func freePorts(n int) ([]int, error) {
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	handedOut.Lock()
	defer handedOut.Unlock()
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		if tries > 100*n {
			return nil, errors.New("find a free port: none left that was not handed out")
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l) // held until all are found, so the kernel gives distinct ones
		p := l.Addr().(*net.TCPAddr).Port
		if handedOut.ports[p] {
			continue
		}
		handedOut.ports[p] = true
		ports = append(ports, p)
	}
	return ports, nil
}

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
