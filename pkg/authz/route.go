package authz

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// ErrPolicy is wrapped by the errors of CompilePolicy (and so of New) for a policy that is malformed or
// has a route no request can reach.
var ErrPolicy = errors.New("authz: invalid policy")

// Methods lists the request methods a route may name.
var Methods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}

// methodBit maps a method to its bit in compiledRoute.methods; 0 for a method no route can name.
func methodBit(m string) uint16 {
	switch m {
	case "GET":
		return 1 << 0
	case "HEAD":
		return 1 << 1
	case "POST":
		return 1 << 2
	case "PUT":
		return 1 << 3
	case "PATCH":
		return 1 << 4
	case "DELETE":
		return 1 << 5
	case "OPTIONS":
		return 1 << 6
	case "CONNECT":
		return 1 << 7
	case "TRACE":
		return 1 << 8
	}
	return 0
}

// CompiledPolicy is a Policy prepared for matching once, at start-up: hosts lower-cased, paths cut to
// their segment prefix, methods as a bit set, claim rules in a fixed order. It is read-only and safe for
// concurrent use.
type CompiledPolicy struct {
	routes []compiledRoute
	byName map[string]int
	def    rule
	claims []string // every claim a rule names, sorted: what a session keeps
}

type compiledRoute struct {
	index    int    // in Policy.Routes
	name     string // may be empty
	host     string // lower case: exact, or ".example.com" when wildcard; "" for any host
	wildcard bool
	path     string // without trailing slash; "" for every path
	methods  uint16 // bit set of methodBit; 0 for any method
	nameOnly bool   // selected only by name
	public   bool
	rule     rule
	headers  []headerSource // sorted by name; nil for none
}

// label names the route in messages: policy.routes[2] (admin).
func (rt *compiledRoute) label() string { return RouteLabel(rt.index, rt.name) }

// RouteLabel names route i of a policy as configuration messages do: policy.routes[2], with its name in
// parentheses when it has one.
func RouteLabel(i int, name string) string {
	if name == "" {
		return fmt.Sprintf("policy.routes[%d]", i)
	}
	return fmt.Sprintf("policy.routes[%d] (%s)", i, name)
}

// CompilePolicy checks p and prepares it for matching. It refuses (ErrPolicy, naming the route) what
// pkg/config refuses with friendlier messages, and a route that an earlier one shadows completely and
// that has no name to be selected by (see Shadowed).
func CompilePolicy(p Policy) (*CompiledPolicy, error) {
	cp := &CompiledPolicy{def: compileRule(Rule{EmailDomains: p.EmailDomains, Groups: p.Groups}), byName: map[string]int{}}
	claims := map[string]bool{}
	var errs []error
	for i, r := range p.Routes {
		rt, err := compileRoute(i, r)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: %s: %w", ErrPolicy, RouteLabel(i, r.Name), err))
			continue
		}
		if r.Name != "" {
			if j, dup := cp.byName[r.Name]; dup {
				errs = append(errs, fmt.Errorf("%w: %s: name also used by policy.routes[%d]", ErrPolicy, rt.label(), j))
				continue
			}
			cp.byName[r.Name] = i
		}
		for name := range r.Require.Claims {
			claims[name] = true
		}
		for _, h := range rt.headers {
			if !h.groups {
				claims[h.claim] = true
			}
		}
		cp.routes = append(cp.routes, rt)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for _, s := range cp.Shadowed() {
		if !s.Named {
			errs = append(errs, fmt.Errorf("%w: %s", ErrPolicy, s))
		}
	}
	cp.claims = slices.Sorted(maps.Keys(claims))
	return cp, errors.Join(errs...)
}

func compileRoute(i int, r Route) (compiledRoute, error) {
	rt := compiledRoute{index: i, name: r.Name, nameOnly: r.NameOnly(), public: r.Public, rule: compileRule(r.Require)}
	if rt.nameOnly && r.Name == "" {
		return rt, errors.New("needs a host, path, methods or a name: it would match every request (write path: / for a catch-all)")
	}
	if r.Public && !rt.rule.empty() {
		return rt, errors.New("a public route cannot have requirements")
	}
	if r.Public && len(r.Headers) > 0 {
		return rt, errors.New("a public route sends no identity: it cannot have headers")
	}
	var err error
	if rt.headers, err = compileHeaders(r.Headers); err != nil {
		return rt, err
	}
	h := strings.ToLower(strings.TrimSuffix(r.Host, "."))
	if rest, ok := strings.CutPrefix(h, "*."); ok {
		rt.host, rt.wildcard = "."+rest, true
		h = rest
	} else {
		rt.host = h
	}
	if r.Host != "" && !isHostName(h) {
		return rt, fmt.Errorf("host %q is not a host name or *.domain", r.Host)
	}
	if r.Path != "" {
		if norm, err := NormalizePath(r.Path); err != nil || strings.TrimSuffix(norm, "/") != strings.TrimSuffix(r.Path, "/") || strings.ContainsAny(r.Path, "?#%;") {
			return rt, fmt.Errorf("path %q is not a normalised path starting with /", r.Path)
		}
		rt.path = strings.TrimSuffix(r.Path, "/")
	}
	for _, m := range r.Methods {
		b := methodBit(m)
		if b == 0 {
			return rt, fmt.Errorf("method %q is not one of %s", m, strings.Join(Methods, ", "))
		}
		rt.methods |= b
	}
	for _, c := range rt.rule.claims {
		if c.name == "" || len(c.values) == 0 {
			return rt, fmt.Errorf("claim %q needs a name and at least one value", c.name)
		}
	}
	return rt, nil
}

// isHostName reports whether s is dot-separated labels of letters, digits, '-' and '_'.
func isHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// ClaimNames returns every claim that some route requires or sends upstream (Route.Headers), sorted: the claims a session must keep.
func (cp *CompiledPolicy) ClaimNames() []string { return slices.Clone(cp.claims) }

// Routes reports whether the policy has routes at all. Without any, the request's host, path and method
// play no part: every request is held to the default rule.
func (cp *CompiledPolicy) Routes() bool { return len(cp.routes) > 0 }

// selection is the outcome of selectRoute.
type selection struct {
	route  *compiledRoute // nil: the default rule
	status int            // 0, or the status that answers the request at once (400 or 500)
	path   string         // the normalised path, when it was needed
}

// selectRoute finds the route for r: the one the gateway named, else the first whose host, path and
// methods match, else none (the default rule). Without routes and without a name it does no work at all.
// A path that NormalizePath refuses is 400, whatever the route; a name that no route has is 500.
func (cp *CompiledPolicy) selectRoute(r *Request) selection {
	if len(cp.routes) == 0 && r.Route == "" {
		return selection{}
	}
	p, err := NormalizePath(r.URI)
	if err != nil {
		return selection{status: 400}
	}
	if r.Route != "" {
		i, ok := cp.byName[r.Route]
		if !ok {
			return selection{status: 500, path: p}
		}
		return selection{route: &cp.routes[i], path: p}
	}
	host, bit := hostOnly(r.Host), methodBit(r.Method)
	for i := range cp.routes {
		rt := &cp.routes[i]
		if !rt.nameOnly && rt.matches(host, p, bit) {
			return selection{route: rt, path: p}
		}
	}
	return selection{path: p}
}

func (rt *compiledRoute) matches(host, path string, method uint16) bool {
	if rt.methods != 0 && rt.methods&method == 0 {
		return false
	}
	switch {
	case rt.host == "":
	case rt.wildcard:
		if len(host) <= len(rt.host) || !equalFold(host[len(host)-len(rt.host):], rt.host) {
			return false
		}
	case !equalFold(host, rt.host):
		return false
	}
	return rt.path == "" || path == rt.path ||
		len(path) > len(rt.path) && path[len(rt.path)] == '/' && path[:len(rt.path)] == rt.path
}
