package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/authbridge/authbridge/pkg/authz"
	"github.com/authbridge/authbridge/pkg/config"
	"github.com/authbridge/authbridge/pkg/login"
)

// runExplain answers "why": which policy rule a request gets and how a user (from a claims file) fares
// against it, using the fronts' own request checks and the engine's own matching and checks. It exits 0 whatever the decision, 1 for a
// configuration or file it cannot use and 2 for bad flags.
func runExplain(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("explain", stdout, stderr)
	path := fs.String("config", os.Getenv("AUTHBRIDGE_CONFIG"), "YAML config file (or env AUTHBRIDGE_CONFIG)")
	method := fs.String("method", "GET", "the request's method")
	rawURL := fs.String("url", "", "the request's absolute URL, e.g. https://admin.example.com/x (required)")
	route := fs.String("route", "", "the route name a gateway passes (?route=, authbridge_route), if any")
	claimsFile := fs.String("claims", "", "JSON file of the user's ID-token claims (the token's payload); without it, the request has no session")
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	req, err := explainRequest(*method, *rawURL, *route)
	if err != nil {
		fmt.Fprintf(stderr, "authbridge explain: %v\n", err)
		return 2
	}
	cfg, err := config.Load(*path, environ())
	if err != nil {
		fmt.Fprintf(stderr, "authbridge: invalid configuration:\n%s\n", indent(err))
		return 1
	}
	cp, _, err := checkPolicy(cfg.Policy)
	if err != nil {
		fmt.Fprintf(stderr, "authbridge: invalid configuration:\n%s\n", indent(err))
		return 1
	}
	var id *authz.Identity
	if *claimsFile != "" {
		if id, err = readIdentity(*claimsFile, cfg.OIDC, cp.ClaimNames()); err != nil {
			fmt.Fprintf(stderr, "authbridge explain: %v\n", err)
			return 1
		}
	}
	if err := authz.CheckTarget(req); err != nil {
		// Every front refuses such a request description before the engine (and so any rule) sees it.
		var re *authz.RequestError
		reason := err.Error()
		if errors.As(err, &re) {
			reason = re.Reason
		}
		fmt.Fprintf(stdout, "request:  %s %s://%s%s\n", req.Method, req.Scheme, req.Host, req.URI)
		fmt.Fprintf(stdout, "decision: 400 bad request: every front refuses this request before any rule (%s)\n", reason)
		return 0
	}
	writeExplanation(stdout, req, cp.Explain(req, id), id, *claimsFile)
	return 0
}

// explainRequest describes the request as a gateway would: the host of the URL and its path and query
// exactly as written (not re-encoded, so that what normalisation does is shown).
func explainRequest(method, rawURL, route string) (*authz.Request, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok || (scheme != "https" && scheme != "http") {
		return nil, errors.New("--url must be an absolute http or https URL, e.g. https://admin.example.com/x")
	}
	host, uri := rest, "/"
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		host, uri = rest[:i], rest[i:]
		if uri[0] != '/' {
			uri = "/" + uri
		}
	}
	if host == "" || strings.Contains(host, "@") {
		return nil, fmt.Errorf("--url %q has no plain host", rawURL)
	}
	return &authz.Request{Method: strings.ToUpper(method), Scheme: scheme, Host: host, URI: uri, Route: route}, nil
}

// readIdentity reads a claims file the way a login reads a verified ID token.
func readIdentity(path string, o config.OIDC, claimNames []string) (*authz.Identity, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read claims: %w", err)
	}
	c, err := login.ReadClaims(b, o.GroupsClaim, o.AllowUnverifiedEmail)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &authz.Identity{Subject: c.Subject, Email: c.Email, Groups: c.Groups, Claims: c.Values(claimNames)}, nil
}

func writeExplanation(w io.Writer, req *authz.Request, x authz.Explanation, id *authz.Identity, claimsFile string) {
	fmt.Fprintf(w, "request:  %s %s://%s%s\n", req.Method, req.Scheme, req.Host, req.URI)
	if x.Path != "" {
		fmt.Fprintf(w, "path:     %s (normalised)\n", x.Path)
	}
	switch {
	case x.Status != 0:
		fmt.Fprintf(w, "rule:     %s\n", x.Label)
		if x.Status == 400 {
			fmt.Fprintf(w, "decision: 400 bad request: servers read this path differently (an encoded / or \\, a control character, \"..;\", or \"..\" after \"//\"), so no route can be trusted to apply\n")
		} else {
			fmt.Fprintf(w, "decision: 500 and an error in the log: the gateway names a route the configuration lacks; nothing is let through\n")
		}
		return
	case x.ByName:
		fmt.Fprintf(w, "rule:     %s, named by the gateway (its host, path and methods are not checked)\n", x.Label)
	default:
		fmt.Fprintf(w, "rule:     %s\n", x.Label)
	}
	if x.Public {
		fmt.Fprintf(w, "decision: 200 allowed without login (public route); the upstream gets no identity, even from a valid session\n")
		return
	}
	if id == nil {
		for _, c := range x.Checks {
			fmt.Fprintf(w, "requires: %s\n", c.Requirement)
		}
		if len(x.Checks) == 0 {
			fmt.Fprintf(w, "requires: a login, nothing more\n")
		}
		fmt.Fprintf(w, "decision: login required: 401 for scripts and API clients, a redirect to log in for browser navigation (nginx: 401); give --claims FILE to see what a user then gets\n")
		return
	}
	fmt.Fprintf(w, "identity: sub %s, %d groups, from %s\n", id.Subject, len(id.Groups), claimsFile)
	for _, c := range x.Checks {
		mark := "fail"
		if c.Passed {
			mark = "pass"
		}
		fmt.Fprintf(w, "  [%s] %s: %s\n", mark, c.Requirement, c.Detail)
	}
	if x.Allowed {
		fmt.Fprintf(w, "decision: 200 allowed; the upstream gets Authorization: Bearer <access token>, X-Auth-Request-User and X-Auth-Request-Email\n")
		return
	}
	fmt.Fprintf(w, "decision: 403 forbidden: a requirement failed\n")
}
