package main

import (
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// registerBuildInfo registers authbridge_build_info{version,revision,go_version}, always 1, so that
// dashboards can tell replicas of different builds apart.
func registerBuildInfo(reg prometheus.Registerer) {
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
