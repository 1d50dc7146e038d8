package main

import (
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// stopTimeout bounds how long a child may take to exit after SIGTERM before it is killed.
const stopTimeout = 10 * time.Second

// child is a process the bench started. Every child is stopped before the bench returns; should the
// bench die without stopping it, the kernel kills it (see sysProcAttr).
type child struct {
	name string
	cmd  *exec.Cmd
	out  *output
	done chan struct{} // closed when the process has exited
}

// startChild runs bin with args and env, collecting the tail of its stdout and stderr.
func startChild(name, bin string, args, env []string) (*child, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	out := &output{listen: make(chan string, 1)}
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, so a terminal's Ctrl-C reaches only the bench, which stops children in order.
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, waits up to stopTimeout, then kills. Stopping a stopped child does nothing.
func (c *child) stop() {
	if c == nil || c.exited() {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(stopTimeout):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// failed wraps err with the child's last output, for a child that did not come up.
func (c *child) failed(err error) error {
	return fmt.Errorf("%s: %w; its output ends with:\n%s", c.name, err, c.out.tail())
}

// waitListen waits for the child to print "listening HOST:PORT" and returns the address.
func (c *child) waitListen(timeout time.Duration) (string, error) {
	select {
	case addr := <-c.out.listen:
		return addr, nil
	case <-c.done:
		return "", c.failed(fmt.Errorf("exited before listening"))
	case <-time.After(timeout):
		return "", c.failed(fmt.Errorf("not listening within %s", timeout))
	}
}

// stopAll stops children in reverse order of start.
func stopAll(cs []*child) {
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i].stop()
	}
}

// output keeps the last outputMax bytes a child wrote and reports its first "listening ADDR" line.
type output struct {
	mu     sync.Mutex
	buf    []byte
	line   []byte // the incomplete first lines, until the listening line is seen
	listen chan string
	seen   bool
}

const outputMax = 8 << 10

var _ io.Writer = (*output)(nil)

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf = append(o.buf, p...)
	if len(o.buf) > outputMax {
		o.buf = append(o.buf[:0], o.buf[len(o.buf)-outputMax:]...)
	}
	if !o.seen && len(o.line) < outputMax {
		o.line = append(o.line, p...)
		for {
			i := bytes.IndexByte(o.line, '\n')
			if i < 0 {
				break
			}
			l := strings.TrimSpace(string(o.line[:i]))
			o.line = o.line[i+1:]
			if addr, ok := strings.CutPrefix(l, "listening "); ok {
				o.seen = true
				o.listen <- addr
				break
			}
		}
	}
	return len(p), nil
}

func (o *output) tail() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return string(o.buf)
}
