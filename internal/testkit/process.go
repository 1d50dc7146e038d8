package testkit

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// StartTimeout bounds how long WaitReady waits for a started process.
const StartTimeout = 30 * time.Second

// stopTimeout bounds how long a process may take to exit after SIGTERM before it is killed.
const stopTimeout = 10 * time.Second

// Process is one program a test runs. Its output goes to a log file in its directory, or to the writer
// that StartWith was given.
type Process struct {
	Name    string
	Cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	logPath string        // "" when the output goes to a writer
}

// Start runs argv in dir with exactly env (nothing is inherited), its output appended to dir/NAME.log.
func Start(name, dir string, env []string, argv ...string) (*Process, error) {
	logPath := filepath.Join(dir, name+".log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s log: %w", name, err)
	}
	p, err := StartWith(name, dir, env, logf, nil, argv...)
	if err != nil {
		logf.Close()
		return nil, err
	}
	p.logPath = logPath
	go func() {
		<-p.done
		logf.Close()
	}()
	return p, nil
}

// StartWith runs argv in dir with exactly env, its stdout and stderr written to out; attr, when not
// nil, sets the process's attributes (e.g. its own process group).
func StartWith(name, dir string, env []string, out io.Writer, attr *syscall.SysProcAttr, argv ...string) (*Process, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", name, err)
	}
	p := &Process{Name: name, Cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Pid returns the process id.
func (p *Process) Pid() int { return p.Cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// WaitReady polls ready until it returns nil, the process exits, or StartTimeout passes (then the
// process is stopped). The error carries the end of the process's log.
func (p *Process) WaitReady(ready func() error) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(StartTimeout)
	var err error
	for {
		if err = ready(); err == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before it was ready: %w\n%s", p.Name, err, p.LogTail())
		case <-deadline:
			p.Stop()
			return fmt.Errorf("%s not ready within %s: %w\n%s", p.Name, StartTimeout, err, p.LogTail())
		case <-tick.C:
		}
	}
}

// Stop asks the process to end (SIGTERM), kills it if it has not within a few seconds, and waits.
// Stopping a stopped process does nothing.
func (p *Process) Stop() {
	if p.Exited() {
		return
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		_ = p.Cmd.Process.Kill()
		<-p.done
	}
}

// Kill ends the process with SIGKILL, like a crash, and waits for it. A stopped (SIGSTOP) process is
// killed as well.
func (p *Process) Kill() {
	if p.Exited() {
		return
	}
	_ = p.Cmd.Process.Kill()
	<-p.done
}

// Signal sends sig to a running process (e.g. SIGSTOP, SIGCONT).
func (p *Process) Signal(sig syscall.Signal) error {
	if p.Exited() {
		return fmt.Errorf("%s: %v to a process that has exited", p.Name, sig)
	}
	return p.Cmd.Process.Signal(sig)
}

// LogPath returns the file the process's output goes to ("" when it goes to a writer).
func (p *Process) LogPath() string { return p.logPath }

// Log returns the process's output so far ("" when it goes to a writer).
func (p *Process) Log() string {
	if p.logPath == "" {
		return ""
	}
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}

// LogTail returns the end of the process's log, named, for error messages.
func (p *Process) LogTail() string {
	return p.Name + " log:\n" + Tail(p.Log(), 3000)
}

// Tail returns the last n bytes of s, marked as cut when it was longer.
func Tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
