package testkit

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
)

// handedOut holds every port FreePorts gave this process: a port is handed out once, so that a port
// reserved for one program (told before it starts) is never picked again for another while it is not
// yet bound (the kernel reuses a just-closed ephemeral port readily).
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago and that this process has not
// handed out before, for programs that must be told their port before they start.
func FreePort() (int, error) {
	ports, err := FreePorts(1)
	if err != nil {
		return 0, err
	}
	return ports[0], nil
}

// MustFreePort is FreePort for tests: it fails t when no port can be found.
func MustFreePort(t testing.TB) int {
	t.Helper()
	p, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// FreePorts returns n distinct free ports, none handed out before.
func FreePorts(n int) ([]int, error) {
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
