package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// rssTarget is the memory bound under sustained load.
const rssTarget = 40 << 20

// runSoak loads both fronts at once for o.soak (each with half the concurrency, at least one worker)
// and prints authbridge's RSS every o.soakInterval, then the growth over the soak.
func runSoak(ctx context.Context, o *options, stdout, log io.Writer) error {
	loadBefore := loadAverage()
	soakOpts := *o
	soakOpts.compare = false
	sys, err := prepare(ctx, &soakOpts, log)
	if err != nil {
		return err
	}
	defer sys.close()
	if sys.instances[0].pid <= 0 {
		return errors.New("--soak samples authbridge's RSS: with --target-* give its --server-pid")
	}
	half := o.load
	half.concurrency = max(o.load.concurrency/2, 1)
	var workers []requester
	for _, p := range sys.plan() {
		t, closeT, err := newTarget(ctx, p, half)
		if err != nil {
			return err
		}
		defer closeT()
		workers = append(workers, t.workers...)
	}
	fmt.Fprintf(log, "soak: %s warm-up, then %s on both fronts, RSS every %s\n", o.load.warmup, o.soak, o.soakInterval)
	if o.load.warmup > 0 {
		runPhase(ctx, workers, newStats(len(workers)), o.load.warmup)
	}
	st := newStats(len(workers))
	cpu0 := cpuOrNeg(sys.instances[0].pid)
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runPhase(ctx, workers, st, o.soak)
	}()
	samples := watch(ctx, sys.instances[0].pid, st, o.soakInterval, done)
	elapsed := time.Since(start)
	if err := ctx.Err(); err != nil {
		return err
	}
	r := summarize("authbridge /auth + Check", st, elapsed)
	var cpu time.Duration
	addDelta(&cpu, cpu0, cpuOrNeg(sys.instances[0].pid))
	r.cpu = perRequest(cpu, r.requests)
	printSoak(stdout, o, r, samples, loadBefore)
	return nil
}

// sample is one point of the soak's series.
type sample struct {
	at     time.Duration
	rss    uint64
	rate   float64
	errors uint64
}

// watch samples RSS and the interval's throughput every interval until done is closed.
func watch(ctx context.Context, pid int, st []*workerStats, interval time.Duration, done <-chan struct{}) []sample {
	var out []sample
	start, last := time.Now(), time.Now()
	var lastCount, lastErrs uint64
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return out
		case <-ctx.Done():
			<-done
			return out
		case now := <-tick.C:
			var count, errs uint64
			for _, s := range st {
				count += s.count.Load()
				errs += s.errors.Load()
			}
			rss, _ := rssBytes(pid)
			out = append(out, sample{at: now.Sub(start).Round(time.Second), rss: rss,
				rate: float64(count-lastCount) / now.Sub(last).Seconds(), errors: errs - lastErrs})
			last, lastCount, lastErrs = now, count, errs
		}
	}
}

func printSoak(w io.Writer, o *options, r result, samples []sample, loadBefore string) {
	fmt.Fprintf(w, "\n%s\nsoak: %s on /auth and Check together, %d workers each after a %s warm-up, %d sessions, "+
		"HTTP client %s, %d gRPC connections\n\n", machine(loadBefore), o.soak, max(o.load.concurrency/2, 1),
		o.load.warmup, sessionCount(o), o.load.httpClient, o.load.grpcConns)
	t := table{header: []string{"t", "RSS", "req/s", "errors"}}
	for _, s := range samples {
		t.add(s.at.String(), mib(s.rss), fmt.Sprintf("%.0f", s.rate), fmt.Sprint(s.errors))
	}
	t.print(w)
	fmt.Fprintf(w, "\nwhole soak: %.0f req/s, p50 %s, p99 %s, p99.9 %s, %d errors, %s CPU per request\n",
		r.rate(), latency(r.p50), latency(r.p99), latency(r.p999), r.errors, micros(r.cpu))
	if r.firstErr != nil {
		fmt.Fprintf(w, "first error: %v\n", r.firstErr)
	}
	if len(samples) == 0 {
		fmt.Fprintln(w, "no RSS samples: the soak was shorter than --soak-interval")
		return
	}
	first, last := samples[0].rss, samples[len(samples)-1].rss
	var peak uint64
	for _, s := range samples {
		peak = max(peak, s.rss)
	}
	growth := float64(last) - float64(first)
	pct := 0.0
	if first > 0 {
		pct = 100 * growth / float64(first)
	}
	fmt.Fprintf(w, "RSS: first sample %s, last %s, max %s; growth %+.1f MiB (%+.1f %%); below %s: %s\n",
		mib(first), mib(last), mib(peak), growth/(1<<20), pct, mib(rssTarget), yesNo(peak < rssTarget))
}
