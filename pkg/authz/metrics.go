package authz

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts decisions by front and outcome and times them. Labels never carry request data.
type Metrics struct {
	decisions *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	fronts    map[string]*frontMetrics // resolved once for the known fronts; read-only after NewMetrics
}

// frontMetrics holds one front's series, so the hot path does no label hashing.
type frontMetrics struct {
	outcomes [4]prometheus.Counter // by Outcome; index 0 is error
	latency  prometheus.Observer
}

// NewMetrics registers the engine's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authbridge_decisions_total",
			Help: "Decisions by front and outcome (allow, redirect, deny, error).",
		}, []string{"front", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "authbridge_decision_duration_seconds",
			Help:    "Time to decide one request, by front.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"front"}),
	}
	reg.MustRegister(m.decisions, m.latency)
	m.fronts = make(map[string]*frontMetrics)
	for _, f := range []string{FrontExtAuthz, FrontForwardAuth, FrontNginx, FrontHTTP} {
		fm := &frontMetrics{latency: m.latency.WithLabelValues(f)}
		fm.outcomes[0] = m.decisions.WithLabelValues(f, "error")
		for _, o := range []Outcome{Allow, Redirect, Deny} {
			fm.outcomes[o] = m.decisions.WithLabelValues(f, o.String())
		}
		m.fronts[f] = fm
	}
	return m
}

func (m *Metrics) observe(front string, d *Decision, err error, took time.Duration) {
	fm, ok := m.fronts[front]
	if !ok {
		return // not a front of ours (tests): no unbounded label values
	}
	i := 0
	if err == nil {
		i = int(d.Outcome)
	}
	fm.outcomes[i].Inc()
	fm.latency.Observe(took.Seconds())
}
