package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
)

// report prints the run's machine, the results table and, with --compare, the ratios table. Both
// tables are Markdown, so they paste into docs/performance.md as they are.
func report(w io.Writer, o *options, rs []result, loadBefore string) {
	fmt.Fprintf(w, "\n%s\nrun: concurrency %d per target, %s per target in %d rounds after a %s warm-up, %d sessions, "+
		"HTTP client %s, %d gRPC connections; loader, servers and Redis share the machine\n\n",
		machine(loadBefore), o.load.concurrency, o.load.duration, o.load.rounds, o.load.warmup, sessionCount(o),
		o.load.httpClient, o.load.grpcConns)
	t := table{header: []string{"target", "req/s", "p50", "p99", "p99.9", "errors", "CPU/req", "Redis CPU/req", "RSS max", "Redis cmds/req", "loader CPU/req"}}
	for _, r := range rs {
		t.add(r.name, fmt.Sprintf("%.0f", r.rate()), latency(r.p50), latency(r.p99), latency(r.p999),
			fmt.Sprint(r.errors), micros(r.cpu), micros(r.redisCPU), mib(r.rss), perReq(r.redisCmds), micros(r.loaderCPU))
	}
	t.print(w)
	for _, r := range rs {
		if r.firstErr != nil {
			fmt.Fprintf(w, "\n%s: %d errors, the first: %v\n", r.name, r.errors, r.firstErr)
		}
	}
	if o.compare {
		fmt.Fprintln(w)
		ratios(w, rs)
	}
}

// machine describes where the numbers come from: CPUs, Go, and how busy the machine was before the run
// started (other processes compete with the run).
func machine(loadBefore string) string {
	return fmt.Sprintf("machine: %d CPUs (%s), %s %s/%s, load average before the run %s",
		runtime.NumCPU(), cpuModel(), runtime.Version(), runtime.GOOS, runtime.GOARCH, loadBefore)
}

func sessionCount(o *options) int {
	if len(o.target.cookies) > 0 {
		return len(o.target.cookies)
	}
	return o.setup.sessions + o.setup.seed // the seeded ones are loaded like the logged-in ones
}

// loadAverage is the 1-minute load average, or "n/a".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "n/a"
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// ratios prints the figures the targets are stated in, each from this one run.
func ratios(w io.Writer, rs []result) {
	by := map[string]result{}
	for _, r := range rs {
		by[r.name] = r
	}
	t := table{header: []string{"ratio (same run)", "value", "target", "met"}}
	rate := func(a, b, goal string, min float64) {
		ra, okA := by[a]
		rb, okB := by[b]
		if !okA || !okB || rb.rate() == 0 {
			return
		}
		v := ra.rate() / rb.rate()
		met := "—"
		if min > 0 {
			met = yesNo(v >= min)
		}
		t.add(a+" req/s ÷ "+b, fmt.Sprintf("%.0f %%", 100*v), goal, met)
	}
	cpu := func(a, b string) {
		ra, okA := by[a]
		rb, okB := by[b]
		if !okA || !okB || ra.cpu <= 0 || rb.cpu <= 0 {
			return
		}
		t.add(a+" CPU/req ÷ "+b, fmt.Sprintf("%.2f×", float64(ra.cpu)/float64(rb.cpu)), "—", "—")
	}
	// Without the cache every check reads Redis once, like the "+ Redis GET" references; with it, most
	// checks read nothing, like the no-op ones. In target mode there is no cache-off instance, and the
	// targeted one is compared with both.
	auth, check := rowAuth+labelNoCache, rowCheck+labelNoCache
	if _, ok := by[auth]; !ok {
		auth, check = rowAuth, rowCheck
	}
	rate(auth, rowHTTPRedis, "≥ 90 % (cache off)", 0.9)
	rate(check, rowExtAuthzGet, "≥ 90 % (cache off)", 0.9)
	rate(rowAuth, rowHTTPNoop, "≥ 80 % (cache on)", 0.8)
	rate(rowCheck, rowExtAuthz, "≥ 80 % (cache on)", 0.8)
	cpu(auth, rowHTTPRedis)
	cpu(check, rowExtAuthzGet)
	cpu(rowAuth, rowHTTPNoop)
	cpu(rowCheck, rowExtAuthz)
	t.print(w)
	fmt.Fprintln(w, "\nNot measured here: the oauth2-proxy targets (/auth > 2× its throughput at ≤ 40 % of its CPU per"+
		" request) need oauth2-proxy, which this setup does not run; the issue's table has its figures from"+
		" another run (~7,400–9,400 req/s, ~140–176 µs CPU per request), which are not comparable side by side.")
	for _, name := range []string{rowAuth, rowAuth + labelNoCache} {
		if r, ok := by[name]; ok && r.cpu > 0 {
			fmt.Fprintf(w, "For orientation only: %s used %s CPU per request in this run.\n", name, micros(r.cpu))
		}
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func latency(d time.Duration) string {
	if d < time.Millisecond {
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	}
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

func micros(d time.Duration) string {
	if d < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond))
}

func perReq(v float64) string {
	if v < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", v)
}

func mib(b uint64) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}

// table is a Markdown table whose columns are padded to line up in a terminal; every column but the
// first is right-aligned.
type table struct {
	header []string
	rows   [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) print(w io.Writer) {
	width := make([]int, len(t.header))
	for _, r := range append([][]string{t.header}, t.rows...) {
		for i, c := range r {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		for i, c := range cells {
			pad := strings.Repeat(" ", width[i]-len([]rune(c)))
			if i == 0 {
				fmt.Fprintf(&b, "| %s%s ", c, pad)
			} else {
				fmt.Fprintf(&b, "| %s%s ", pad, c)
			}
		}
		fmt.Fprintln(w, b.String()+"|")
	}
	line(t.header)
	var b strings.Builder
	for i, n := range width {
		if i == 0 {
			fmt.Fprintf(&b, "|%s", strings.Repeat("-", n+2))
		} else {
			fmt.Fprintf(&b, "|%s:", strings.Repeat("-", n+1))
		}
	}
	fmt.Fprintln(w, b.String()+"|")
	for _, r := range t.rows {
		line(r)
	}
}
