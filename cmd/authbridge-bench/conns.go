package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// connRow is one line of the --connections table: one server, over one front and one connection shape,
// at one concurrency. Each slice opens its connections afresh and closes them after, so that the
// server's goroutines and RSS in a slice belong to that slice's connections alone.
type connRow struct {
	p          planned
	c          int    // requests in flight
	conns      int    // connections they are spread over
	shape      string // the front and how it connects, for the table
	admin      string // authbridge's admin URL; empty for the references
	meters     []*meter
	goroutines uint64 // the most the server ran during a slice; 0 when unknown
}

// connectionRows plans the rows: at each concurrency, /auth and the no-op net/http server over one
// keep-alive connection per worker (as wrk, Traefik and nginx open them), then Check and the no-op
// ext_authz server over --grpc-conns shared connections (as one Envoy multiplexes its streams) and over
// one connection per worker (a fleet of Envoys).
func connectionRows(sys *system, o *options) []*connRow {
	adminOf := map[string]string{}
	for _, in := range sys.instances {
		adminOf[rowAuth+in.label], adminOf[rowCheck+in.label] = in.adminURL, in.adminURL
	}
	var http, grpc []planned
	for _, p := range sys.plan() {
		switch p.name {
		case rowAuth, rowHTTPNoop:
			http = append(http, p)
		case rowCheck, rowExtAuthz:
			grpc = append(grpc, p)
		}
	}
	var rows []*connRow
	for _, c := range o.connections {
		add := func(ps []planned, conns int, shape string) {
			for _, p := range ps {
				rows = append(rows, &connRow{p: p, c: c, conns: conns, shape: shape, admin: adminOf[p.name]})
			}
		}
		add(http, c, "HTTP, 1 conn/worker")
		add(grpc, min(o.load.grpcConns, c), "gRPC, shared conns")
		if c > o.load.grpcConns {
			add(grpc, c, "gRPC, 1 conn/worker")
		}
	}
	return rows
}

// runConnections measures every row in each of o.rounds rounds, interleaved, and prints one table.
func runConnections(ctx context.Context, o *options, stdout, log io.Writer) error {
	loadBefore := loadAverage()
	sys, err := prepare(ctx, o, log)
	if err != nil {
		return err
	}
	defer sys.close()
	rows := connectionRows(sys, o)
	idle := map[string]uint64{} // goroutines of each authbridge before any load
	for _, r := range rows {
		if r.admin != "" {
			if n, err := goroutines(r.admin); err == nil {
				idle[r.admin] = n
			}
		}
	}
	slice := o.load.duration / time.Duration(o.load.rounds)
	for round := range o.load.rounds {
		fmt.Fprintf(log, "round %d of %d: %d rows × %s\n", round+1, o.load.rounds, len(rows), slice)
		for _, r := range rows {
			if err := r.measure(ctx, o.load, slice); err != nil {
				return err
			}
		}
	}
	reportConnections(stdout, o, rows, idle, loadBefore)
	return nil
}

// settle is how long the server gets to end a slice's connections before the next slice opens its own.
const settle = 300 * time.Millisecond

func (r *connRow) measure(ctx context.Context, lo loadOptions, d time.Duration) error {
	lo.concurrency, lo.grpcConns = r.c, r.conns
	t, closeT, err := newTarget(ctx, r.p, lo)
	if err != nil {
		return err
	}
	m := newMeter(t, nil)
	m.warmup(ctx, lo.warmup)
	stop := func() uint64 { return 0 }
	if r.admin != "" {
		stop = samplePeak(rssInterval, func() (uint64, error) { return goroutines(r.admin) })
	}
	m.slice(ctx, d)
	r.goroutines = max(r.goroutines, stop())
	closeT()
	r.meters = append(r.meters, m)
	time.Sleep(settle)
	return ctx.Err()
}

// result merges the row's slices; lo and hi are the lowest and highest p99 of a single slice. RSS is
// the first round's: Go returns memory to the OS slowly, so in later rounds a row would show what the
// previous round's higher concurrencies left behind.
func (r *connRow) result() (res result, lo, hi time.Duration) {
	var st []*workerStats
	var elapsed, cpu time.Duration
	for i, m := range r.meters {
		st = append(st, m.st...)
		elapsed += m.elapsed
		addDelta(&cpu, 0, m.cpu)
		p99 := m.result().p99
		if i == 0 {
			lo, hi = p99, p99
		}
		lo, hi = min(lo, p99), max(hi, p99)
	}
	res = summarize(r.p.name, st, elapsed)
	res.cpu = perRequest(cpu, res.requests)
	if len(r.meters) > 0 {
		res.rss = r.meters[0].rss
	}
	return res, lo, hi
}

// reportConnections prints the --connections table: each authbridge row with its p99 against the
// no-op reference's at the same concurrency and connection shape.
func reportConnections(w io.Writer, o *options, rows []*connRow, idle map[string]uint64, loadBefore string) {
	fmt.Fprintf(w, "\n%s\nrun: concurrencies %s, %s per row in %d interleaved rounds after a %s warm-up per slice, "+
		"%d sessions, HTTP client %s; each slice opens its own connections; loader, servers and Redis share the machine\n\n",
		machine(loadBefore), joinInts(o.connections), o.load.duration, o.load.rounds, o.load.warmup, sessionCount(o), o.load.httpClient)
	t := table{header: []string{"c", "front", "conns", "server", "req/s", "p50", "p99", "p99 per round", "p99 ÷ no-op",
		"errors", "CPU/req", "RSS max, round 1", "goroutines max", "goroutines/conn"}}
	type key struct {
		c, conns int
		grpc     bool
	}
	noop := map[key]time.Duration{}
	for _, r := range rows {
		if r.p.name == rowHTTPNoop || r.p.name == rowExtAuthz {
			res, _, _ := r.result()
			noop[key{r.c, r.conns, r.p.grpc}] = res.p99
		}
	}
	var firstErrs []string
	for _, r := range rows {
		res, lo, hi := r.result()
		ratio, g, perConn := "—", "n/a", "n/a"
		if ref, ok := noop[key{r.c, r.conns, r.p.grpc}]; ok && r.admin != "" && ref > 0 {
			ratio = fmt.Sprintf("%.2f×", float64(res.p99)/float64(ref))
		}
		if r.goroutines > 0 {
			g = strconv.FormatUint(r.goroutines, 10)
			perConn = fmt.Sprintf("%.2f", (float64(r.goroutines)-float64(idle[r.admin]))/float64(r.conns))
		}
		t.add(strconv.Itoa(r.c), r.shape, strconv.Itoa(r.conns), r.p.name, fmt.Sprintf("%.0f", res.rate()),
			latency(res.p50), latency(res.p99), latency(lo)+"–"+latency(hi), ratio, fmt.Sprint(res.errors),
			micros(res.cpu), mib(res.rss), g, perConn)
		if res.firstErr != nil {
			firstErrs = append(firstErrs, fmt.Sprintf("%s (c=%d, %d conns): %d errors, the first: %v",
				r.p.name, r.c, r.conns, res.errors, res.firstErr))
		}
	}
	t.print(w)
	for _, e := range firstErrs {
		fmt.Fprintln(w, "\n"+e)
	}
	for a, n := range idle {
		fmt.Fprintf(w, "\nauthbridge at rest (%s): %d goroutines; goroutines/conn is (max − at rest) ÷ conns\n", a, n)
	}
}

// goroutines reads go_goroutines from authbridge's admin /metrics.
func goroutines(adminURL string) (uint64, error) {
	resp, err := metricsClient.Get(adminURL + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0, fmt.Errorf("go_goroutines %q: %w", v, err)
			}
			return uint64(f), nil
		}
	}
	return 0, errors.New("no go_goroutines in /metrics")
}

var metricsClient = &http.Client{Timeout: 2 * time.Second}

// parseInts parses a comma-separated list of positive integers.
func parseInts(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}
