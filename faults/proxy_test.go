package faults_test

import (
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// proxy is a TCP proxy between the replicas and Redis that injects network faults: latency on every
// chunk in either direction, connection resets, and an outage (new connections reset, open ones cut).
type proxy struct {
	l        net.Listener
	target   string
	latency  atomic.Int64 // nanoseconds added before each chunk is passed on
	resetPPM atomic.Int64 // chance per chunk, in millionths, that the connection is reset instead
	down     atomic.Bool  // refuse everything
	resets   atomic.Int64 // connections reset by the proxy
	mu       sync.Mutex
	conns    map[net.Conn]bool
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{l: l, target: target, conns: map[net.Conn]bool{}}
	go p.serve()
	t.Cleanup(func() {
		l.Close()
		p.cut()
	})
	return p
}

func (p *proxy) addr() string { return p.l.Addr().String() }

// setDown takes the path to Redis down (every open connection is reset) or brings it back.
func (p *proxy) setDown(down bool) {
	p.down.Store(down)
	if down {
		p.cut()
	}
}

// cut resets every open connection.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		reset(c)
	}
}

// reset closes c with an RST rather than a FIN, as a crashed peer or a middlebox does.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

func (p *proxy) serve() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		if p.down.Load() {
			reset(c)
			continue
		}
		go p.pipe(c)
	}
}

func (p *proxy) track(cs ...net.Conn) func() {
	p.mu.Lock()
	for _, c := range cs {
		p.conns[c] = true
	}
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		for _, c := range cs {
			delete(p.conns, c)
		}
		p.mu.Unlock()
	}
}

func (p *proxy) pipe(client net.Conn) {
	server, err := net.DialTimeout("tcp", p.target, time.Second)
	if err != nil {
		reset(client)
		return
	}
	defer p.track(client, server)()
	done := make(chan struct{}, 2)
	// Latency is added on the way to Redis only, so each command takes that much longer once.
	go func() { p.copy(server, client, true); done <- struct{}{} }()
	go func() { p.copy(client, server, false); done <- struct{}{} }()
	<-done
	reset(client)
	reset(server)
	<-done
}

// copy passes chunks from src to dst (each after the configured latency when delayed), or returns so
// that the caller resets both ends.
func (p *proxy) copy(dst, src net.Conn, delayed bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if d := time.Duration(p.latency.Load()); delayed && d > 0 {
				time.Sleep(d)
			}
			if ppm := p.resetPPM.Load(); ppm > 0 && rand.Int64N(1_000_000) < ppm {
				p.resets.Add(1)
				return // the caller resets both ends
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
