// Package e2e_test proves the gateway configs shipped in deploy/: the built authbridge binary runs as a
// real process behind real nginx, Caddy and Traefik (and behind Envoy's protocol, spoken by
// internal/gateway), with a real redis-server, Ory Hydra as the OIDC provider and headless Chromium
// logging in. Configs of gateways that cannot run here are decoded strictly into their own schemas.
// Hydra and Traefik are built from the tool modules in tools/ and traefik-tools/ into the user's cache
// directory on first use; `go test ./e2e -build-tools` builds them without running a test.
package e2e_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/authbridge/authbridge/internal/browsertest"
	"github.com/authbridge/authbridge/internal/redistest"
	"github.com/authbridge/authbridge/internal/toolbuild"
)

var (
	update     = flag.Bool("update", false, "rewrite the golden CheckResponse files in testdata/")
	buildTools = flag.Bool("build-tools", false, "build (or find) Ory Hydra and Traefik and exit without running a test")
)

const chromiumPath = browsertest.ChromiumPath

// stack is what every gateway test shares: one redis-server, one Hydra, one Chromium and the built
// authbridge binary. Each test starts its own authbridge (its callback URL is on its gateway) and gateway.
type stack struct {
	dir        string
	authbridge string // path of the built binary
	redisURL   string
	hydra      *hydra
	browser    context.Context // a started Chromium; tabs are opened from it

	mu      sync.Mutex
	closers []func() // run in reverse order by close
}

var shared struct {
	once sync.Once
	s    *stack
	err  error
}

func TestMain(m *testing.M) {
	flag.Parse()
	if *buildTools {
		os.Exit(prepareTools())
	}
	code := m.Run()
	if shared.s != nil {
		shared.s.close()
	}
	os.Exit(code)
}

// prepareTools builds Hydra and Traefik side by side, for ./scripts/test.sh to run before the tests and
// outside their timeout (minutes each on a cold Go build cache). Traefik not building is reported and
// is no failure: only its tests need it, and they skip saying why.
func prepareTools() int {
	var hydraErr, traefikErr error
	var wg sync.WaitGroup
	wg.Go(func() { _, hydraErr = hydraTool.Path() })
	wg.Go(func() { _, traefikErr = traefikBinary() })
	wg.Wait()
	if traefikErr != nil {
		fmt.Fprintf(os.Stderr, "e2e: Traefik did not build; the tests that run it will skip:\n%s\n", toolbuild.Tail(traefikErr, 2000))
	}
	if hydraErr != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", hydraErr)
		return 1
	}
	return 0
}

// sharedStack starts the shared processes on first use and returns them; they stop when the package's
// tests are done.
func sharedStack(t *testing.T) *stack {
	t.Helper()
	requireProgram(t, "redis-server")
	requireProgram(t, chromiumPath)
	shared.once.Do(func() { shared.s, shared.err = newStack() })
	if shared.err != nil {
		t.Fatalf("start the shared processes: %v", shared.err)
	}
	return shared.s
}

func newStack() (s *stack, err error) {
	dir, err := os.MkdirTemp("", "authbridge-e2e-")
	if err != nil {
		return nil, err
	}
	s = &stack{dir: dir, closers: []func(){func() { os.RemoveAll(dir) }}}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	// Everything starts at once: the Hydra build on a cold cache takes minutes, the rest seconds.
	var wg sync.WaitGroup
	var errs [4]error
	wg.Go(func() { s.authbridge, errs[0] = buildAuthbridge(dir) })
	wg.Go(func() { errs[1] = s.startBrowser() })
	wg.Go(func() { errs[2] = s.startRedis() })
	wg.Go(func() { errs[3] = s.startHydra() })
	wg.Wait()
	return s, errors.Join(errs[:]...)
}

// startHydra builds (or finds) Hydra and runs it.
func (s *stack) startHydra() error {
	bin, err := hydraTool.Path()
	if err != nil {
		return err
	}
	dir := filepath.Join(s.dir, "hydra")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	h, err := startHydra(dir, bin)
	if err != nil {
		return err
	}
	s.hydra = h
	s.addCloser(h.close)
	return nil
}

// addCloser registers a function that close runs; the parts of the stack start concurrently.
func (s *stack) addCloser(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closers = append(s.closers, f)
}

func (s *stack) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}

// startRedis runs a redis-server without persistence on a free port.
func (s *stack) startRedis() error {
	dir := filepath.Join(s.dir, "redis")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return err
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		p, err := startProcess("redis", dir, baseEnv(dir), "redis-server", "--port", strconv.Itoa(port),
			"--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
		if err != nil {
			return err
		}
		err = p.waitReady(func() error {
			_, err := redistest.Do(addr, "PING")
			return err
		})
		if err == nil {
			s.redisURL = "redis://" + addr
			s.addCloser(p.stop)
			return nil
		}
		p.stop()
		if attempt == 2 {
			return err
		}
	}
}

// startBrowser starts one headless Chromium for all tests.
func (s *stack) startBrowser() error {
	ctx, stop, err := browsertest.Start(filepath.Join(s.dir, "chromium"), 1280, 800)
	if err != nil {
		return fmt.Errorf("start chromium: %w", err)
	}
	s.addCloser(stop)
	s.browser = ctx
	return nil
}

// requireProgram fails the test when a program it drives is not installed, or skips it when
// AUTHBRIDGE_ALLOW_SKIP=1.
func requireProgram(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err == nil {
		return
	}
	if _, err := exec.LookPath(filepath.Join("/usr/sbin", name)); err == nil {
		return
	}
	if os.Getenv("AUTHBRIDGE_ALLOW_SKIP") == "1" {
		t.Skipf("%s is not installed", name)
	}
	t.Fatalf("%s is not installed: run ./scripts/test.sh as root, or apt-get install it "+
		"(AUTHBRIDGE_ALLOW_SKIP=1 skips the tests that need it)", name)
}
