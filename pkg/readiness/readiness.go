// Package readiness decides whether this replica can answer checks — its session store answers — and
// says so in one place to /readyz, the gRPC health service and Prometheus. The identity provider's
// reachability is reported beside it but never makes the replica unready: valid sessions keep working
// through a provider outage, and a fleet that left rotation with its provider would answer nothing.
package readiness

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Pinger is a dependency that can say whether it answers.
type Pinger interface{ Ping(context.Context) error }

// Options configure a Probe.
type Options struct {
	Store    Pinger         // required: readiness follows it
	Provider Pinger         // may be nil; reported, never required
	Health   *health.Server // may be nil; Services are set SERVING exactly when ready
	Services []string       // gRPC service names to set; "" is the server as a whole
	Interval time.Duration  // between probes; default 2s. A provider probe may take this long.
	Timeout  time.Duration  // for one store probe; default 1s
	Registry prometheus.Registerer
	Logger   *slog.Logger
}

// Probe holds the latest result. It is safe for concurrent use.
type Probe struct {
	o                          Options
	log                        *slog.Logger
	ready, storeUp, providerUp prometheus.Gauge
	mu                         sync.Mutex
	store, provider, stopping  bool // latest results; guarded by mu
	storeKnown, providerKnown  bool // a result has been published; guarded by mu
}

// New returns a Probe that is not ready until its first store probe succeeds.
func New(o Options) *Probe {
	if o.Interval <= 0 {
		o.Interval = 2 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	p := &Probe{o: o, log: o.Logger,
		ready:      prometheus.NewGauge(prometheus.GaugeOpts{Name: "authbridge_ready", Help: "1 when this replica is ready (its session store answers), else 0."}),
		storeUp:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "authbridge_store_up", Help: "1 when the last session store probe succeeded, else 0."}),
		providerUp: prometheus.NewGauge(prometheus.GaugeOpts{Name: "authbridge_provider_up", Help: "1 when the last identity provider probe (discovery document) succeeded, else 0. Reported, not required for readiness."}),
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if o.Registry != nil {
		o.Registry.MustRegister(p.ready, p.storeUp, p.providerUp)
	}
	p.mu.Lock()
	p.publishLocked()
	p.mu.Unlock()
	return p
}

// Check probes the store and the provider once, concurrently, and publishes each result as it comes.
func (p *Probe) Check(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { p.checkStore(ctx) })
	if p.o.Provider != nil {
		wg.Go(func() { p.checkProvider(ctx) })
	}
	wg.Wait()
}

// Run probes every Interval until ctx is done. The store and the provider have a loop each, so a slow
// provider never delays the store's verdict.
func (p *Probe) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { p.every(ctx, p.checkStore) })
	if p.o.Provider != nil {
		wg.Go(func() { p.every(ctx, p.checkProvider) })
	}
	wg.Wait()
	return nil
}

func (p *Probe) every(ctx context.Context, check func(context.Context)) {
	t := time.NewTicker(p.o.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			check(ctx)
		}
	}
}

func (p *Probe) checkStore(parent context.Context) {
	ctx, cancel := context.WithTimeout(parent, p.o.Timeout)
	defer cancel()
	err := p.o.Store.Ping(ctx)
	if parent.Err() != nil {
		return // stopping: the probe was cut short, not failed
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if changed := !p.storeKnown || p.store != (err == nil); changed && err != nil {
		p.log.Warn("session store unreachable: not ready", "err", err)
	} else if changed {
		p.log.Info("session store reachable: ready")
	}
	p.store, p.storeKnown = err == nil, true
	p.publishLocked()
}

func (p *Probe) checkProvider(parent context.Context) {
	ctx, cancel := context.WithTimeout(parent, p.o.Interval)
	defer cancel()
	err := p.o.Provider.Ping(ctx)
	if parent.Err() != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if changed := !p.providerKnown || p.provider != (err == nil); changed && err != nil {
		p.log.Warn("identity provider unreachable: still ready, valid sessions keep working", "err", err)
	} else if changed {
		p.log.Info("identity provider reachable")
	}
	p.provider, p.providerKnown = err == nil, true
	p.publishLocked()
}

// Shutdown makes the replica unready for good (it is draining): /readyz fails and every gRPC service
// reports NOT_SERVING, and later probes change neither.
func (p *Probe) Shutdown() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopping = true
	p.publishLocked()
	if p.o.Health != nil {
		p.o.Health.Shutdown()
	}
}

// readyLocked is the one definition of ready. p.mu must be held.
func (p *Probe) readyLocked() bool { return p.store && !p.stopping }

// publishLocked pushes the current state to the gRPC health service and the gauges, under the same lock
// that /readyz reads, so that the two never disagree. p.mu must be held.
func (p *Probe) publishLocked() {
	ready := p.readyLocked()
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if ready {
		st = healthpb.HealthCheckResponse_SERVING
	}
	if p.o.Health != nil {
		for _, s := range p.o.Services {
			p.o.Health.SetServingStatus(s, st)
		}
	}
	p.ready.Set(b2f(ready))
	p.storeUp.Set(b2f(p.store))
	p.providerUp.Set(b2f(p.provider))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Ready reports the latest verdict.
func (p *Probe) Ready() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.readyLocked()
}

// ServeHTTP answers /readyz from the latest probes: 200 "ok" when ready, else 503 "not ready". With
// ?verbose each check gets a line in Kubernetes' style ("[+]store ok", "[-]provider unreachable (not
// required)"). No error text is shown: the log has it.
func (p *Probe) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	ready := p.readyLocked()
	store := check{"store", p.storeKnown, p.store, true}
	provider := check{"provider", p.providerKnown, p.provider, false}
	stopping := p.stopping
	p.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	status, verdict := http.StatusOK, "ok"
	if !ready {
		status, verdict = http.StatusServiceUnavailable, "not ready"
	}
	var b strings.Builder
	if r.URL.Query().Has("verbose") {
		b.WriteString(store.String())
		if p.o.Provider != nil {
			b.WriteString(provider.String())
		}
		if stopping {
			b.WriteString("[-]shutting down\n")
		}
		b.WriteString("readyz: ")
	}
	b.WriteString(verdict + "\n")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

// check is one line of the verbose answer.
type check struct {
	name            string
	known, ok, need bool
}

func (c check) String() string {
	mark, text := "[+]", "ok"
	switch {
	case !c.known:
		mark, text = "[-]", "not probed yet"
	case !c.ok:
		mark, text = "[-]", "unreachable"
	}
	if !c.need {
		text += " (not required)"
	}
	return mark + c.name + " " + text + "\n"
}
