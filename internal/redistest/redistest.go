// Package redistest runs real redis-server processes on free 127.0.0.1 ports for tests.
package redistest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/authbridge/authbridge/internal/testkit"
)

// startTimeout bounds how long a freshly started server may take to answer.
const startTimeout = 10 * time.Second

// Server is one redis-server process owned by a test. It is stopped in t.Cleanup.
type Server struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	// tlsPort is the TLS port of a server started with StartTLS, 0 otherwise.
	tlsPort int
	argv    func() []string // command line, built from port and dir
	init    func() error    // run after the process answers, e.g. to assign cluster slots

	mu   sync.Mutex
	proc *testkit.Process // nil while stopped
}

// Start runs a standalone redis-server without persistence on a free port, waits until it answers,
// and stops it when the test ends. Without redis-server on PATH the test fails, or is skipped when
// AUTHBRIDGE_ALLOW_SKIP=1.
func Start(t testing.TB) *Server {
	t.Helper()
	s := newServer(t)
	s.argv = func() []string { return s.baseArgs() }
	s.launch()
	return s
}

// TLS is what a TLS redis-server presents and requires.
type TLS struct {
	CertFile, KeyFile string // the server's certificate and key, PEM
	CAFile            string // the CA that client certificates must chain to, PEM
	// RequireClientCert refuses clients without a certificate from CAFile (--tls-auth-clients yes).
	RequireClientCert bool
}

// StartTLS runs a standalone redis-server that also serves TLS on a second port (TLSAddr, TLSURL).
// The plain port stays open for the test's own setup and inspection with Do.
func StartTLS(t testing.TB, c TLS) *Server {
	t.Helper()
	s := newServer(t)
	auth := "no"
	if c.RequireClientCert {
		auth = "yes"
	}
	s.argv = func() []string {
		return append(s.baseArgs(), "--tls-port", strconv.Itoa(s.tlsPort), "--tls-cert-file", c.CertFile,
			"--tls-key-file", c.KeyFile, "--tls-ca-cert-file", c.CAFile, "--tls-auth-clients", auth)
	}
	s.launchWith(func() { s.tlsPort = testkit.MustFreePort(t) })
	return s
}

// TLSAddr returns host:port of the TLS port of a server started with StartTLS.
func (s *Server) TLSAddr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.tlsPort)) }

// TLSURL returns rediss://host:port of the TLS port of a server started with StartTLS.
func (s *Server) TLSURL() string { return "rediss://" + s.TLSAddr() }

// StartCluster runs a single-node Redis Cluster that owns all 16384 slots, so a cluster client can
// talk to it. Restart keeps the node's slots (its nodes.conf survives in the temp dir).
func StartCluster(t testing.TB) *Server {
	t.Helper()
	s := newServer(t)
	busPort := testkit.MustFreePort(t)
	s.argv = func() []string {
		return append(s.baseArgs(), "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-port", strconv.Itoa(busPort), "--cluster-announce-ip", "127.0.0.1")
	}
	s.init = s.assignSlots
	s.launch()
	return s
}

// StartSentinel runs a Redis Sentinel that monitors master under name, with a quorum of one.
func StartSentinel(t testing.TB, master *Server, name string) *Server {
	t.Helper()
	return startSentinel(t, master, name, nil, 1)
}

// StartReplica runs a standalone redis-server that replicates master.
func StartReplica(t testing.TB, master *Server) *Server {
	t.Helper()
	s := newServer(t)
	s.argv = func() []string {
		return append(s.baseArgs(), "--replicaof", "127.0.0.1", strconv.Itoa(master.port))
	}
	s.launch()
	return s
}

// StartSentinelQuorum runs a Sentinel like StartSentinel that needs quorum sentinels to agree that master
// is down.
func StartSentinelQuorum(t testing.TB, master *Server, name string, quorum int) *Server {
	t.Helper()
	return startSentinel(t, master, name, nil, quorum)
}

// StartSentinelTLS runs a Sentinel like StartSentinel that also serves TLS on TLSAddr and talks TLS to
// master, which must come from StartTLS; c is its certificate, and also what it presents to master.
func StartSentinelTLS(t testing.TB, master *Server, name string, c TLS) *Server {
	t.Helper()
	return startSentinel(t, master, name, &c, 1)
}

// startSentinel writes the sentinel's config: a failover is retried after 3 s, so a test sees one
// within seconds.
func startSentinel(t testing.TB, master *Server, name string, c *TLS, quorum int) *Server {
	t.Helper()
	s := newServer(t)
	conf := filepath.Join(s.dir, "sentinel.conf")
	s.argv = func() []string {
		// Sentinel rewrites its config file, so it is written once and kept across restarts.
		if _, err := os.Stat(conf); err != nil {
			masterPort, tlsConf := master.port, ""
			if c != nil {
				masterPort = master.tlsPort
				tlsConf = fmt.Sprintf("tls-port %d\ntls-cert-file %s\ntls-key-file %s\ntls-ca-cert-file %s\n"+
					"tls-replication yes\n", s.tlsPort, c.CertFile, c.KeyFile, c.CAFile)
			}
			cf := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\n%ssentinel monitor %s 127.0.0.1 %d %d\n"+
				"sentinel down-after-milliseconds %s 1000\nsentinel failover-timeout %s 3000\n",
				s.port, s.dir, tlsConf, name, masterPort, quorum, name, name)
			if err := os.WriteFile(conf, []byte(cf), 0o600); err != nil {
				t.Fatalf("redistest: write sentinel config: %v", err)
			}
		}
		return []string{conf, "--sentinel"}
	}
	s.launchWith(func() {
		if c != nil {
			s.tlsPort = testkit.MustFreePort(t)
		}
	})
	return s
}

func newServer(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("AUTHBRIDGE_ALLOW_SKIP") == "1" {
			t.Skip("redistest: redis-server not on PATH")
		}
		t.Fatal("redistest: redis-server not on PATH; install it with `apt-get install -y redis-server` " +
			"(or set AUTHBRIDGE_ALLOW_SKIP=1 to skip tests that need it)")
	}
	return &Server{t: t, bin: bin, dir: t.TempDir()}
}

func (s *Server) baseArgs() []string {
	return []string{"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--dir", s.dir, "--daemonize", "no"}
}

// launch picks a free port and starts the server, retrying when another process takes the port
// between picking and binding.
func (s *Server) launch() {
	s.t.Helper()
	s.launchWith(func() {})
}

// launchWith is launch with pick choosing the server's other ports before each attempt.
func (s *Server) launchWith(pick func()) {
	s.t.Helper()
	var err error
	for range 5 {
		s.port = testkit.MustFreePort(s.t)
		pick()
		if err = s.start(); err == nil {
			s.t.Cleanup(s.Stop)
			return
		}
	}
	s.t.Fatalf("redistest: start redis-server: %v", err)
}

// Addr returns host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL returns redis://host:port.
func (s *Server) URL() string { return "redis://" + s.Addr() }

// Stop kills the server (SIGKILL, like a crash) and waits for it to exit. Stopping a stopped server
// does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return
	}
	s.proc.Kill()
	s.proc = nil
}

// Pause freezes the server with SIGSTOP, as a stalled Redis looks to its clients: connections stay
// open and new ones are even accepted by the kernel, but nothing is answered. Resume undoes it; Stop
// and the test's cleanup end a paused server as well.
func (s *Server) Pause() { s.signal(syscall.SIGSTOP) }

// Resume lets a paused server run again (SIGCONT); it answers everything that queued up meanwhile.
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		s.t.Fatalf("redistest: %v to a server that is not running", sig)
	}
	if err := s.proc.Signal(sig); err != nil {
		s.t.Fatalf("redistest: %v: %v", sig, err)
	}
}

// Restart stops the server if it runs and starts it again on the same port and directory. Data is
// not kept: the server runs without persistence.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	var err error
	// The port may linger briefly after the kill; a few attempts cover that without a fixed sleep.
	for range 20 {
		if err = s.start(); err == nil {
			return
		}
	}
	s.t.Fatalf("redistest: restart redis-server on port %d: %v", s.port, err)
}

// start runs the process and waits until the server on our port answers as this very process, so a
// server that someone else runs on a reused port is never mistaken for ours.
func (s *Server) start() error {
	// A fresh log per start, so that a failure shows this start's output only.
	if err := os.Remove(filepath.Join(s.dir, "redis.log")); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("remove old log: %w", err)
	}
	proc, err := testkit.Start("redis", s.dir, os.Environ(), append([]string{s.bin}, s.argv()...)...)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		proc.Kill()
		return fmt.Errorf("%w; %s", err, proc.LogTail())
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(startTimeout)
	for {
		if info, err := Do(s.Addr(), "INFO", "server"); err == nil &&
			strings.Contains(info, "process_id:"+strconv.Itoa(proc.Pid())+"\r\n") {
			break
		}
		select {
		case <-proc.Done():
			return fail(fmt.Errorf("redis-server exited before answering"))
		case <-deadline:
			return fail(fmt.Errorf("redis-server did not answer within %s", startTimeout))
		case <-tick.C:
		}
	}
	if s.init != nil {
		if err := s.init(); err != nil {
			return fail(err)
		}
	}
	s.mu.Lock()
	s.proc = proc
	s.mu.Unlock()
	return nil
}

// assignSlots gives every slot to the single cluster node (unless it already owns them) and waits for
// the cluster to report ok.
func (s *Server) assignSlots() error {
	info, err := Do(s.Addr(), "CLUSTER", "INFO")
	if err != nil {
		return fmt.Errorf("cluster info: %w", err)
	}
	if strings.Contains(info, "cluster_slots_assigned:0\r\n") {
		if _, err := Do(s.Addr(), "CLUSTER", "ADDSLOTSRANGE", "0", "16383"); err != nil {
			return fmt.Errorf("cluster addslotsrange: %w", err)
		}
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(startTimeout)
	for {
		if info, err := Do(s.Addr(), "CLUSTER", "INFO"); err == nil && strings.Contains(info, "cluster_state:ok") {
			return nil
		}
		select {
		case <-deadline:
			return fmt.Errorf("cluster not ok within %s", startTimeout)
		case <-tick.C:
		}
	}
}

// Do sends one command to the server at addr on a fresh connection and returns the reply as text
// (arrays are flattened one element per line). A Redis error reply is returned as an error. It is
// for test setup and inspection, not for speed.
func Do(addr string, args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(2 * time.Second)); err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	return readReply(bufio.NewReader(c))
}

func readReply(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", fmt.Errorf("redis: %s", line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", err
		}
		if n < 0 {
			return "", nil // a nil bulk string reads as ""
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", err
		}
		parts := make([]string, 0, max(n, 0))
		for range n {
			p, err := readReply(r)
			if err != nil {
				return "", err
			}
			parts = append(parts, p)
		}
		return strings.Join(parts, "\n"), nil
	}
	return "", fmt.Errorf("unexpected reply type %q", line[0])
}
