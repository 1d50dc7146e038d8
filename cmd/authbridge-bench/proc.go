package main

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/authbridge/authbridge/internal/testkit"
)

// child is a process the bench started. Every child is stopped before the bench returns; should the
// bench die without stopping it, the kernel kills it (see sysProcAttr).
type child struct {
	*testkit.Process
	out *output
}

// startChild runs bin with args and env, collecting the tail of its stdout and stderr.
func startChild(name, bin string, args, env []string) (*child, error) {
	out := &output{listen: make(chan string, 1)}
	// Its own process group, so a terminal's Ctrl-C reaches only the bench, which stops children in order.
	p, err := testkit.StartWith(name, "", env, out, sysProcAttr(), append([]string{bin}, args...)...)
	if err != nil {
		return nil, err
	}
	return &child{Process: p, out: out}, nil
}

func (c *child) pid() int { return c.Pid() }

func (c *child) exited() bool { return c.Exited() }

// stop sends SIGTERM, waits a few seconds, then kills. Stopping a stopped child does nothing.
func (c *child) stop() {
	if c != nil {
		c.Stop()
	}
}

// failed wraps err with the child's last output, for a child that did not come up.
func (c *child) failed(err error) error {
	return fmt.Errorf("%s: %w; its output ends with:\n%s", c.Name, err, c.out.tail())
}

// waitListen waits for the child to print "listening HOST:PORT" and returns the address.
func (c *child) waitListen(timeout time.Duration) (string, error) {
	select {
	case addr := <-c.out.listen:
		return addr, nil
	case <-c.Done():
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
