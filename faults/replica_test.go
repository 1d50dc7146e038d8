package faults_test

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestFault13_RollingRestart: two replicas share Redis; each in turn is taken out of the gateway's
// rotation, given SIGTERM 200 ms later (a Kubernetes preStop pause) and started again. Promise: no
// failed request (no error, no 5xx) and no session lost.
func TestFault13_RollingRestart(t *testing.T) {
	r := newRig(t, rigOptions{replicas: 2})
	cookies, l := r.begin(time.Second)

	l.setPhase("rolling")
	rounds := span(1, 5)
	for range rounds {
		for k, rp := range r.replicas {
			l.rotate(k, false)
			time.Sleep(200 * time.Millisecond)
			rp.proc.Stop()
			rp.start(t)
			l.rotate(k, true)
			time.Sleep(500 * time.Millisecond)
		}
	}
	l.setPhase("after")
	time.Sleep(time.Second)
	ts := l.stop(t)
	require.Zero(t, wronglyAllowed(ts), "wrongly allowed")
	require.Zero(t, ts["rolling"].errs+ts["rolling"].status5xx, "failed requests during the rolling restart")
	require.Zero(t, r.lostSessions(cookies), "sessions lost")
}

// TestFault15_SlowAndOversizedHeaders: slow-header clients (one header byte a second) and clients with
// 100 KB of headers hit the forward-auth listener beside the usual load. Promise: the oversized get
// 431, the slow are cut off by the header timeout, legitimate success stays ≥ 99.9 %.
func TestFault15_SlowAndOversizedHeaders(t *testing.T) {
	r := newRig(t, rigOptions{})
	rp := r.replicas[0]
	_, l := r.begin(time.Second)

	l.setPhase("attack")
	addr := strings.TrimPrefix(rp.forwardURL, "http://")
	var wg sync.WaitGroup
	var mu sync.Mutex
	slowCut, oversized, cutAfter := 0, map[int]int{}, time.Duration(0)
	for range 50 { // slow-header clients
		wg.Go(func() {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				return
			}
			defer c.Close()
			start := time.Now()
			_, _ = fmt.Fprintf(c, "GET /auth HTTP/1.1\r\nHost: x\r\n")
			// The server closes the connection (after a 408 or without a word) when its header timeout
			// passes; the writes that follow fail.
			for range 30 {
				if _, err := c.Write([]byte("X")); err != nil {
					mu.Lock()
					slowCut++
					cutAfter = max(cutAfter, time.Since(start))
					mu.Unlock()
					return
				}
				time.Sleep(time.Second)
			}
		})
	}
	for range 200 { // oversized headers
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, rp.forwardURL+"/auth", nil)
			req.Header.Set("X-Padding", strings.Repeat("a", 100<<10))
			resp, err := rp.http.Do(req)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				oversized[0]++
				return
			}
			resp.Body.Close()
			oversized[resp.StatusCode]++
		})
	}
	time.Sleep(span(7*time.Second, 60*time.Second))
	wg.Wait()
	l.setPhase("after")
	time.Sleep(time.Second)
	ts := l.stop(t)
	t.Logf("FAULT %s slow_clients_cut=%d/50 (the last after %s) oversized=%v", t.Name(), slowCut, cutAfter.Round(time.Second), oversized)
	require.Zero(t, wronglyAllowed(ts), "wrongly allowed")
	require.Equal(t, map[int]int{http.StatusRequestHeaderFieldsTooLarge: 200}, oversized)
	require.Equal(t, 50, slowCut, "slow-header clients cut off")
	requireSuccess999(t, ts["attack"])
}
