package authz

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts decisions by front and outcome and times them. Labels never carry request data.
type Metrics struct {
	decisions *prometheus.CounterVec
	latency   *prometheus.HistogramVec
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
	return m
}

func (m *Metrics) observe(front string, d *Decision, err error, took time.Duration) {
	outcome := "error"
	if err == nil {
		outcome = d.Outcome.String()
	}
	m.decisions.WithLabelValues(front, outcome).Inc()
	m.latency.WithLabelValues(front).Observe(took.Seconds())
}
