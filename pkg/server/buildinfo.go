package server

import (
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// NewRegistry is a metrics registry with the Go runtime and process collectors, the base every
// authbridge /metrics starts from.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// registerBuildInfo registers authbridge_build_info{version,revision,go_version}, always 1, so that
// dashboards can tell replicas of different builds apart.
func registerBuildInfo(reg prometheus.Registerer, version string) {
	if version == "" {
		version = "unknown"
	}
	revision := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				revision = s.Value
			}
		}
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "authbridge_build_info",
		Help:        "Always 1; its labels name the version, VCS revision and Go version of this binary.",
		ConstLabels: prometheus.Labels{"version": version, "revision": revision, "go_version": runtime.Version()},
	})
	g.Set(1)
	reg.MustRegister(g)
}
