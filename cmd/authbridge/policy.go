package main

import (
	"github.com/authbridge/authbridge/pkg/authz"
	"github.com/authbridge/authbridge/pkg/config"
)

// policyOf is the engine's policy from the configuration's.
func policyOf(c config.Policy) authz.Policy {
	p := authz.Policy{EmailDomains: c.EmailDomains, Groups: c.Groups}
	for _, r := range c.Routes {
		p.Routes = append(p.Routes, authz.Route{
			Name: r.Name, Host: r.Host, Path: r.Path, Methods: r.Methods, Public: r.Public, Headers: r.Headers,
			Require: authz.Rule{Groups: r.Groups, Emails: r.Emails, EmailDomains: r.EmailDomains, Claims: r.Claims},
		})
	}
	return p
}

// checkPolicy compiles the policy as the engine will: a route that no request can reach (an earlier route
// matches every request it would) is an error; one that only a gateway naming it can reach is a warning.
func checkPolicy(c config.Policy) (*authz.CompiledPolicy, []string, error) {
	cp, err := authz.CompilePolicy(policyOf(c))
	if err != nil {
		return nil, nil, err
	}
	var warnings []string
	for _, s := range cp.Shadowed() {
		warnings = append(warnings, s.String())
	}
	return cp, warnings, nil
}
