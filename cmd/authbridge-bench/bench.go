package main

import (
	"context"
	"fmt"
	"io"
	"time"
)

// planned is one row of a run: which server, over which protocol, with which sessions, charged to
// which processes.
type planned struct {
	name    string
	grpc    bool
	addr    string // HTTP base URL or gRPC host:port
	pid     int
	redis   *redisProbe // nil: the row uses no Redis, or it is unknown
	cookies []string
}

// plan orders the rows so that each authbridge front is followed by its references.
func (s *system) plan() []planned {
	var out []planned
	for _, grpc := range []bool{false, true} {
		for _, in := range s.instances {
			switch {
			case !grpc && in.httpURL != "":
				out = append(out, planned{name: rowAuth + in.label, addr: in.httpURL, pid: in.pid, redis: s.redis, cookies: in.cookies})
			case grpc && in.grpcAddr != "":
				out = append(out, planned{name: rowCheck + in.label, grpc: true, addr: in.grpcAddr, pid: in.pid, redis: s.redis, cookies: in.cookies})
			}
		}
		if len(s.instances) == 0 {
			continue
		}
		for _, r := range s.refs {
			if r.kind.grpc != grpc {
				continue
			}
			// The references check nothing; any cookie of the first instance will do.
			p := planned{name: r.kind.name, grpc: grpc, addr: "http://" + r.addr, pid: r.pid, cookies: s.instances[0].cookies}
			if grpc {
				p.addr = r.addr
			}
			if r.kind.redis {
				p.redis = s.refRedis
			}
			out = append(out, p)
		}
	}
	return out
}

// newTarget builds the workers for p; close releases its connections.
func newTarget(ctx context.Context, p planned, o loadOptions) (target, func(), error) {
	if p.grpc {
		return grpcTarget(p.name, p.addr, p.pid, p.cookies, o.concurrency, o.grpcConns)
	}
	if o.httpClient == "raw" {
		return rawHTTPTarget(p.name, p.addr, p.pid, p.cookies, o.concurrency)
	}
	t, closeT := httpTarget(ctx, p.name, p.addr, p.pid, p.cookies, o.concurrency)
	return t, closeT, nil
}

// runBench measures every planned row and prints the report. The measured time of each row is split
// into o.rounds slices, and each round runs every row once, so that a change in the machine's load
// during the run (other processes, thermal limits) affects all rows alike.
func runBench(ctx context.Context, o *options, stdout, log io.Writer) error {
	loadBefore := loadAverage()
	sys, err := prepare(ctx, o, log)
	if err != nil {
		return err
	}
	defer sys.close()
	var meters []*meter
	for _, p := range sys.plan() {
		t, closeT, err := newTarget(ctx, p, o.load)
		if err != nil {
			return err
		}
		defer closeT()
		meters = append(meters, newMeter(t, p.redis))
	}
	slice := o.load.duration / time.Duration(o.load.rounds)
	for round := range o.load.rounds {
		fmt.Fprintf(log, "round %d of %d: %d targets × %s at concurrency %d\n", round+1, o.load.rounds, len(meters), slice, o.load.concurrency)
		for _, m := range meters {
			if round == 0 {
				m.warmup(ctx, o.load.warmup)
			}
			m.slice(ctx, slice)
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	results := make([]result, len(meters))
	for i, m := range meters {
		results[i] = m.result()
	}
	report(stdout, o, results, loadBefore)
	return nil
}
