package server

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/authbridge/authbridge/pkg/recovery"
	"github.com/authbridge/authbridge/pkg/sessionadmin"
)

// adminServer serves /metrics, /healthz, /readyz and, with an admin token, the session admin API.
// Its handlers answer at once, so it bounds only the header read; a scrape may stream a while.
func (s *Server) adminServer(rec *recovery.Recoverer) *http.Server {
	mux := http.NewServeMux()
	if s.o.AdminToken != "" {
		mux.Handle(sessionadmin.Path, sessionadmin.New(s.sessions, s.o.AdminToken, s.log))
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.o.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.Handle("GET /readyz", s.ready)
	srv := NewHTTPServer(rec.HTTP("admin", mux), s.log)
	srv.ReadTimeout, srv.WriteTimeout = 0, 0
	return srv
}
