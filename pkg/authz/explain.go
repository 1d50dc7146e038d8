package authz

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/authbridge/authbridge/pkg/login"
)

// Shadow is a route that matching never reaches: an earlier route matches every request it would (the
// same or a broader host, a path prefix of its path, a superset of its methods). Routes selected only by
// name neither shadow nor are shadowed.
type Shadow struct {
	Route, By         int
	RouteName, ByName string
	Named             bool // the shadowed route has a name, so a gateway can still select it
}

func (s Shadow) String() string {
	msg := fmt.Sprintf("%s is unreachable: %s before it matches every request it would", RouteLabel(s.Route, s.RouteName), RouteLabel(s.By, s.ByName))
	if s.Named {
		msg += "; only a gateway naming it can select it"
	}
	return msg
}

// Shadowed lists the routes that an earlier route shadows completely, each with the first such route.
func (cp *CompiledPolicy) Shadowed() []Shadow {
	var out []Shadow
	for j := range cp.routes {
		b := &cp.routes[j]
		if b.nameOnly {
			continue
		}
		for i := range cp.routes[:j] {
			if a := &cp.routes[i]; !a.nameOnly && a.covers(b) {
				out = append(out, Shadow{Route: b.index, By: a.index, RouteName: b.name, ByName: a.name, Named: b.name != ""})
				break
			}
		}
	}
	return out
}

// covers reports whether every request b matches is matched by a.
func (a *compiledRoute) covers(b *compiledRoute) bool {
	methods := a.methods == 0 || b.methods != 0 && b.methods&^a.methods == 0
	var host bool
	switch {
	case a.host == "":
		host = true
	case b.host == "":
		host = false
	case a.wildcard && b.wildcard:
		host = strings.HasSuffix(b.host, a.host)
	case a.wildcard:
		host = len(b.host) > len(a.host) && strings.HasSuffix(b.host, a.host)
	default:
		host = !b.wildcard && a.host == b.host
	}
	path := a.path == "" || b.path == a.path || strings.HasPrefix(b.path, a.path+"/")
	return methods && host && path
}

// Explanation says which rule applies to a request and how an identity fares against it.
type Explanation struct {
	Path   string // the normalised request path; "" when it was refused
	Status int    // 400 (path refused) or 500 (unknown route name) when no rule applies; else 0
	Route  int    // index in Policy.Routes; -1 for the default rule
	Label  string // how configuration messages name the rule
	ByName bool   // the gateway named the route
	Public bool
	Checks []Check // one per requirement of the rule, in the order they are checked
	// Allowed: the route is public, or an identity was given and passes every check.
	Allowed bool
}

// Check is one requirement of a rule and, when an identity was given, how it fared.
type Check struct {
	Requirement string // e.g. `groups: one of [admin]`
	Passed      bool
	Detail      string // why it passed or failed; "" without an identity
}

// Explain runs the same selection and checks as the engine for r and, when id is not nil, for that
// identity. Nothing it returns holds the identity's e-mail address.
func (cp *CompiledPolicy) Explain(r *Request, id *Identity) Explanation {
	sel := cp.selectRoute(r)
	x := Explanation{Path: sel.path, Status: sel.status, Route: -1,
		Label: "the default rule (policy.email_domains, policy.groups)", ByName: r.Route != ""}
	if sel.status != 0 {
		if sel.status == http.StatusBadRequest {
			x.Label = "no rule: the path is ambiguous or malformed"
		} else {
			x.Label = fmt.Sprintf("no rule: no route is named %q", r.Route)
		}
		return x
	}
	rl := &cp.def
	if rt := sel.route; rt != nil {
		x.Route, x.Label, x.Public, rl = rt.index, rt.label(), rt.public, &rt.rule
	}
	x.Checks = rl.explain(id)
	x.Allowed = x.Public || id != nil
	for _, c := range x.Checks {
		x.Allowed = x.Allowed && c.Passed
	}
	return x
}

// explain lists the rule's requirements, checked against id when it is not nil, with the same
// predicates refuse uses.
func (r *rule) explain(id *Identity) []Check {
	var out []Check
	if len(r.emails) > 0 || len(r.emailDomains) > 0 {
		var want []string
		if len(r.emails) > 0 {
			want = append(want, fmt.Sprintf("one of %v", r.emails))
		}
		if len(r.emailDomains) > 0 {
			want = append(want, fmt.Sprintf("at one of %v", r.emailDomains))
		}
		c := Check{Requirement: "email: " + strings.Join(want, " or ")}
		if id != nil {
			c.Passed = r.emailOK(id)
			_, domain, ok := login.ParseEmail(id.Email)
			switch {
			case !ok:
				c.Detail = "no verified, well-formed address"
			case c.Passed:
				c.Detail = "the verified address (at " + domain + ") is allowed"
			default:
				c.Detail = "the verified address (at " + domain + ") is neither listed nor in a listed domain"
			}
		}
		out = append(out, c)
	}
	if len(r.groups) > 0 {
		c := Check{Requirement: fmt.Sprintf("groups: one of %v", r.groups)}
		if id != nil {
			c.Passed = r.groupsOK(id)
			c.Detail = fmt.Sprintf("groups %v", id.Groups)
		}
		out = append(out, c)
	}
	for i := range r.claims {
		cr := &r.claims[i]
		c := Check{Requirement: fmt.Sprintf("claim %s: one of %v", cr.name, cr.values)}
		if id != nil {
			c.Passed = cr.ok(id)
			if vs, ok := id.Claims[cr.name]; ok && len(vs) > 0 {
				c.Detail = fmt.Sprintf("values %v", vs)
			} else {
				c.Detail = "absent, or not a string or list of strings"
			}
		}
		out = append(out, c)
	}
	return out
}
