package authz

import (
	"net/http"

	"github.com/authbridge/authbridge/pkg/session"
)

// maxLoggedRoute bounds a route name in a log line.
const maxLoggedRoute = 64

// route picks the rule for r before any session is read (nil: the default rule). A non-nil Decision
// answers r at once: a public route is allowed without login, a path the policy cannot place is 400,
// and a route name that the configuration lacks is 500 (a gateway and authbridge disagree: someone must
// fix it, and nothing is let through meanwhile).
func (e *Engine) route(r *Request) (*compiledRoute, *Decision) {
	sel := e.policy.selectRoute(r)
	switch {
	case sel.status == http.StatusBadRequest:
		e.log.Warn("request path refused: ambiguous or malformed", "front", r.Front, "host", r.Host, "client", r.Client)
		return nil, deny(http.StatusBadRequest, "", "", "ambiguous or malformed path")
	case sel.status != 0:
		name := r.Route
		if len(name) > maxLoggedRoute {
			name = name[:maxLoggedRoute]
		}
		e.log.Error("the gateway named a route that policy.routes does not have", "route", name, "front", r.Front, "host", r.Host)
		return nil, deny(http.StatusInternalServerError, "", "", "unknown route name")
	case sel.route != nil && sel.route.public:
		return sel.route, public()
	}
	return sel.route, nil
}

// public allows a request without login. The upstream gets no identity: authbridge's identity headers
// go empty, so that the client's own copies are removed, and no session is read, even a valid one, so
// that a public page is the same for everyone (and cacheable as such) and costs no store read.
func public() *Decision { return allowWith("", "", "", reasonPublic) }

// authorize holds the session's identity to the rule of rt (nil: the default rule). It answers nil when
// the rule is satisfied, 403 when it is not, and sends the user to log in again when the session was
// stored before a claim the rule needs was kept in sessions (a new login records it).
func (e *Engine) authorize(r *Request, rt *compiledRoute, s *session.Session) (*Decision, error) {
	rl := e.ruleFor(rt)
	if rl.empty() {
		return nil, nil
	}
	for i := range rl.claims {
		if _, known := s.Claims[rl.claims[i].name]; !known {
			return e.unauthenticated(r, "session has not recorded a claim the route needs")
		}
	}
	id := Identity{Subject: s.Subject, Email: s.Email, Groups: s.Groups, Claims: s.Claims}
	if reason := rl.refuse(&id); reason != "" {
		if rt != nil {
			reason = rt.label() + ": " + reason
		}
		d := deny(http.StatusForbidden, "", "", reason)
		d.subject = s.Subject
		return d, nil
	}
	return nil, nil
}

// ruleFor is the rule of rt, or the default rule for nil.
func (e *Engine) ruleFor(rt *compiledRoute) *rule {
	if rt != nil {
		return &rt.rule
	}
	return &e.policy.def
}
