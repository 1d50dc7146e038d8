package main

import (
	"log/slog"

	"github.com/authbridge/authbridge/pkg/bearer"
	"github.com/authbridge/authbridge/pkg/config"
	"github.com/authbridge/authbridge/pkg/login"
)

// newVerifier builds the verifier of API clients' bearer JWTs from the config, or returns nil when
// bearer.audiences is empty (bearer tokens off). It does no I/O: each issuer (oidc.issuer_url, then
// bearer.extra_issuers) is discovered on the first token that names it, so one that is down does not
// stop start-up. The engine takes the result in its options (issue 12).
func newVerifier(cfg *config.Config, m *login.Metrics, log *slog.Logger) (*bearer.Verifier, error) {
	if len(cfg.Bearer.Audiences) == 0 {
		return nil, nil
	}
	return bearer.New(bearer.Options{
		Issuers:              append([]string{cfg.OIDC.IssuerURL}, cfg.Bearer.ExtraIssuers...),
		Audiences:            cfg.Bearer.Audiences,
		GroupsClaim:          cfg.OIDC.GroupsClaim,
		AllowUnverifiedEmail: cfg.OIDC.AllowUnverifiedEmail,
		Timeout:              cfg.OIDC.Timeout,
		RootCAs:              cfg.OIDC.RootCAs,
		Logger:               log.With("component", "bearer"),
		Metrics:              m,
	})
}
