package main

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// requester sends one request on behalf of one worker and returns an error unless the server allowed
// it. A worker calls its requester sequentially, so it may reuse its own request objects.
type requester func(ctx context.Context) error

// target is one server to load: its row name, its process (for CPU and RSS; 0 if unknown) and one
// requester per concurrent worker.
type target struct {
	name    string
	pid     int
	workers []requester
}

// workerStats is what one worker saw. count and errors are read live by the soak; the rest only after
// the phase.
type workerStats struct {
	count    atomic.Uint64
	errors   atomic.Uint64
	firstErr error
	hist     histogram
}

func newStats(n int) []*workerStats {
	st := make([]*workerStats, n)
	for i := range st {
		st[i] = &workerStats{}
	}
	return st
}

// runPhase runs every requester in a loop of its own until d has passed or ctx is done.
func runPhase(ctx context.Context, reqs []requester, st []*workerStats, d time.Duration) {
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for i, r := range reqs {
		wg.Go(func() { loop(ctx, r, end, st[i]) })
	}
	wg.Wait()
}

func loop(ctx context.Context, r requester, end time.Time, s *workerStats) {
	done := ctx.Done()
	for {
		select {
		case <-done:
			return
		default:
		}
		t0 := time.Now()
		if !t0.Before(end) {
			return
		}
		err := r(ctx)
		s.hist.record(time.Since(t0))
		s.count.Add(1)
		if err != nil {
			s.errors.Add(1)
			if s.firstErr == nil {
				s.firstErr = err
			}
		}
	}
}

// result is one target's measurement.
type result struct {
	name      string
	requests  uint64
	errors    uint64
	elapsed   time.Duration
	p50       time.Duration
	p99       time.Duration
	p999      time.Duration
	cpu       time.Duration // server CPU per request; -1 when unknown
	redisCPU  time.Duration // Redis CPU per request; -1 when unknown
	rss       uint64        // server RSS, the most seen; 0 when unknown
	loaderCPU time.Duration // the bench's own CPU per request
	redisCmds float64       // Redis commands per request; -1 when unknown
	firstErr  error
}

func (r result) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.requests) / r.elapsed.Seconds()
}

// rssInterval is how often RSS is sampled during a measurement.
const rssInterval = 200 * time.Millisecond

// meter accumulates one target's measurement over several slices of load, so that rounds that
// interleave the targets can spread the machine's drift evenly over them.
type meter struct {
	t        target
	redis    *redisProbe
	st       []*workerStats // accumulate over slices
	elapsed  time.Duration
	cpu      time.Duration // sums of the slices' CPU deltas; -1 once unknown
	redisCPU time.Duration
	redisCmd int64 // commands Redis processed; -1 once unknown
	self     time.Duration
	rss      uint64
}

func newMeter(t target, redis *redisProbe) *meter {
	return &meter{t: t, redis: redis, st: newStats(len(t.workers))}
}

// warmup loads the target without recording anything.
func (m *meter) warmup(ctx context.Context, d time.Duration) {
	if d > 0 {
		runPhase(ctx, m.t.workers, newStats(len(m.t.workers)), d)
	}
}

// slice loads the target for d and adds what it saw.
func (m *meter) slice(ctx context.Context, d time.Duration) {
	self := os.Getpid()
	cmd0 := m.redis.commands(ctx)
	cpu0, redis0, self0 := cpuOrNeg(m.t.pid), m.redis.cpu(), cpuOrNeg(self)
	stopRSS := sampleRSS(m.t.pid, rssInterval)
	start := time.Now()
	runPhase(ctx, m.t.workers, m.st, d)
	m.elapsed += time.Since(start)
	addDelta(&m.cpu, cpu0, cpuOrNeg(m.t.pid))
	addDelta(&m.redisCPU, redis0, m.redis.cpu())
	if cmd1 := m.redis.commands(ctx); m.redisCmd < 0 || cmd0 < 0 || cmd1 < 0 {
		m.redisCmd = -1
	} else {
		m.redisCmd += cmd1 - cmd0
	}
	addDelta(&m.self, self0, cpuOrNeg(self))
	m.rss = max(m.rss, stopRSS())
}

func addDelta(acc *time.Duration, before, after time.Duration) {
	if *acc < 0 || before < 0 || after < 0 {
		*acc = -1
		return
	}
	*acc += after - before
}

func (m *meter) result() result {
	r := summarize(m.t.name, m.st, m.elapsed)
	r.cpu, r.redisCPU, r.loaderCPU = perRequest(m.cpu, r.requests), perRequest(m.redisCPU, r.requests), perRequest(m.self, r.requests)
	r.rss = m.rss
	if m.redisCmd >= 0 && r.requests > 0 {
		r.redisCmds = float64(m.redisCmd) / float64(r.requests)
	}
	return r
}

// summarize merges the workers' stats. CPU figures are left unknown.
func summarize(name string, st []*workerStats, elapsed time.Duration) result {
	var h histogram
	r := result{name: name, elapsed: elapsed, cpu: -1, redisCPU: -1, loaderCPU: -1, redisCmds: -1}
	for _, s := range st {
		h.merge(&s.hist)
		r.requests += s.count.Load()
		r.errors += s.errors.Load()
		if r.firstErr == nil {
			r.firstErr = s.firstErr
		}
	}
	r.p50, r.p99, r.p999 = h.quantile(0.50), h.quantile(0.99), h.quantile(0.999)
	return r
}

func cpuOrNeg(pid int) time.Duration {
	if pid <= 0 {
		return -1
	}
	d, err := cpuTime(pid)
	if err != nil {
		return -1
	}
	return d
}

// perRequest divides a CPU time among n requests; -1 when it is unknown.
func perRequest(total time.Duration, n uint64) time.Duration {
	if total < 0 || n == 0 {
		return -1
	}
	return total / time.Duration(n)
}

// sampleRSS samples pid's RSS every interval until the returned function is called, which returns the
// largest sample (0 if pid is unknown or unreadable).
func sampleRSS(pid int, interval time.Duration) func() uint64 {
	if pid <= 0 {
		return func() uint64 { return 0 }
	}
	return samplePeak(interval, func() (uint64, error) { return rssBytes(pid) })
}

// samplePeak calls read every interval until the returned function is called, which returns the
// largest value read (0 if every read failed).
func samplePeak(interval time.Duration, read func() (uint64, error)) func() uint64 {
	var peak uint64
	sample := func() {
		if v, err := read(); err == nil {
			peak = max(peak, v)
		}
	}
	sample()
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				sample()
				return
			case <-tick.C:
				sample()
			}
		}
	}()
	return func() uint64 {
		close(stop)
		<-done
		return peak
	}
}
