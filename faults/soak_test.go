package faults_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestFault16_Soak: many sessions through both fronts for a long time (short run: 100 sessions, 9 s;
// full run: 100k sessions, 30 min). Promise: goroutines flat after the warm-up (the first third); RSS
// reported; 0 wrongly allowed.
func TestFault16_Soak(t *testing.T) {
	r := newRig(t, rigOptions{})
	rp := r.replicas[0]
	n := int(span(100, 100_000))
	cookies := make([]string, n)
	var wg sync.WaitGroup
	for w := range 8 { // logins in parallel, as many browsers log in at once
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				c, err := r.loginRetrying(rp) // a 503 was seen 3 times in a 100k-login run
				if err != nil {
					t.Error(err)
					return
				}
				cookies[i] = c
			}
		})
	}
	wg.Wait()
	require.False(t, t.Failed())
	_, ended := setup(r, 0, 10)
	l := r.startLoad(mix(cookies, ended), workers, interval)
	d := span(9*time.Second, 30*time.Minute)
	time.Sleep(d / 3)
	l.setPhase("soak")
	var samples []procStats
	for start := time.Now(); time.Since(start) < 2*d/3; time.Sleep(d / 30) {
		samples = append(samples, rp.stats(t))
	}
	ts := l.stop(t)
	lo, hi := samples[0], samples[0]
	for _, s := range samples {
		lo.rss, hi.rss = min(lo.rss, s.rss), max(hi.rss, s.rss)
		lo.heap, hi.heap = min(lo.heap, s.heap), max(hi.heap, s.heap)
		lo.goroutines, hi.goroutines = min(lo.goroutines, s.goroutines), max(hi.goroutines, s.goroutines)
	}
	t.Logf("FAULT %s sessions=%d rss_min=%.1fMB rss_max=%.1fMB heap_inuse_min=%.1fMB heap_inuse_max=%.1fMB goroutines_min=%.0f goroutines_max=%.0f",
		t.Name(), n, lo.rss/1e6, hi.rss/1e6, lo.heap/1e6, hi.heap/1e6, lo.goroutines, hi.goroutines)
	require.Zero(t, wronglyAllowed(ts), "wrongly allowed")
	requireSuccess999(t, ts["soak"])
	require.True(t, goroutinesBack(lo, hi), "goroutines flat")
}
