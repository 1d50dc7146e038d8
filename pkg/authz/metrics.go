package authz

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authbridge/authbridge/pkg/login"
	"github.com/authbridge/authbridge/pkg/session"
)

// Metrics counts the engine's decisions (by front, outcome and reason class), logins, refreshes and
// back-channel logouts, and times decisions. Every label value is one of the fixed sets below, never
// request data. Every series exists from the start (at zero), so rates and alerts see it before the
// first event.
type Metrics struct {
	fronts       map[string]*frontMetrics // resolved once for the known fronts; read-only after NewMetrics
	loginsStart  prometheus.Counter
	loginsDone   prometheus.Counter
	loginsFailed [numLoginFailures]prometheus.Counter
	refreshes    [numRefreshResults]prometheus.Counter
	backchannel  [numLogoutResults]prometheus.Counter
}

// frontMetrics holds one front's series, so the hot path does no label hashing.
type frontMetrics struct {
	decisions [numClasses]prometheus.Counter // by reason class, which implies the outcome
	latency   prometheus.Observer
}

// class is a decision's reason class: a small fixed set that explains a decision without its free-text
// Reason (which may name a route or a claim).
type class uint8

const (
	classSession         class = iota // allow: a valid session
	classBearer                       // allow: a valid bearer token
	classPublic                       // allow: a public route
	classLogin                        // redirect: a login started (no usable session, or /oauth2/start)
	classLoginComplete                // redirect: a callback finished a login
	classSignedOut                    // redirect: signed out
	classUnauthenticated              // deny 401: no usable session, not a browser navigation (or nginx)
	classBearerRefused                // deny 401: a bearer token refused
	classForbidden                    // deny 403: a route rule refused the identity
	classSignOutRefused               // deny 403/405: a cross-site or unvouched sign-out
	classLoginFailed                  // deny: a callback refused (see loginFailure)
	classBadRequest                   // deny 400: a malformed or ambiguous request
	classUntrusted                    // deny 403: the peer is not a trusted gateway (forward-auth listener)
	classTooLarge                     // deny 414/431: a cookie header or return URL too large
	classMisconfigured                // deny 500: a route name the configuration lacks
	classOtherDeny                    // deny: anything else
	classUnavailable                  // error: the store or the provider did not answer (503)
	numClasses
)

var classes = [numClasses]struct{ outcome, reason string }{
	classSession: {"allow", "session"}, classBearer: {"allow", "bearer"}, classPublic: {"allow", "public"},
	classLogin: {"redirect", "login"}, classLoginComplete: {"redirect", "login_complete"},
	classSignedOut:       {"redirect", "signed_out"},
	classUnauthenticated: {"deny", "unauthenticated"}, classBearerRefused: {"deny", "bearer_refused"},
	classForbidden: {"deny", "forbidden"}, classSignOutRefused: {"deny", "signout_refused"},
	classLoginFailed: {"deny", "login_failed"}, classBadRequest: {"deny", "bad_request"},
	classUntrusted: {"deny", "untrusted_peer"}, classTooLarge: {"deny", "too_large"},
	classMisconfigured: {"deny", "misconfigured"}, classOtherDeny: {"deny", "other"},
	classUnavailable: {"error", "unavailable"},
}

// Refusal is why a front answered a request without asking the engine (see Engine.Refused).
type Refusal uint8

// Refusals a front makes on its own.
const (
	RefusedBadRequest Refusal = iota // 400: the gateway's description of the request is malformed or ambiguous
	RefusedUntrusted                 // 403: the peer is not in trusted_proxies
)

// loginFailure is why a callback did not finish a login.
type loginFailure uint8

const (
	loginInvalidCallback loginFailure = iota // malformed or ambiguous parameters, wrong or missing iss
	loginProviderError                       // the provider sent an error (consent denied, login cancelled)
	loginNoPending                           // no pending login for this state in this browser, or no state/code
	loginExpired                             // the pending login outlived Lifetimes.Login
	loginRefused                             // the provider refused the code, or its ID token was refused
	loginReplayed                            // the state was already used
	loginUnavailable                         // the store or the provider did not answer
	loginOther
	numLoginFailures
)

var loginFailures = [numLoginFailures]string{"invalid_callback", "provider_error", "no_pending_login", "expired",
	"refused", "replayed", "unavailable", "other"}

// refreshResult is how one shared refresh of a session ended (counted once per refresh, not once per
// request that waited for it).
type refreshResult uint8

const (
	refreshOK           refreshResult = iota // this replica refreshed and stored the new tokens
	refreshWaited                            // another request or replica refreshed; its tokens were used
	refreshInvalidGrant                      // the provider refused the refresh token (or its answer): the session ends
	refreshLeaseLost                         // refreshed, but the lease lapsed during the provider call
	refreshWaitTimeout                       // another replica held the lease longer than Refresh.Wait
	refreshProviderDown                      // the provider did not answer (or answered 5xx)
	refreshStoreError                        // the store did not answer
	refreshSessionGone                       // the session ended meanwhile (signed out)
	refreshRateLimited                       // put off (token still valid) or given up waiting for the token endpoint's rate
	numRefreshResults
)

var refreshResults = [numRefreshResults]string{"ok", "waited", "invalid_grant", "lease_lost", "wait_timeout",
	"provider_down", "store_error", "session_gone", "rate_limited"}

// logoutResult is how one back-channel logout ended.
type logoutResult uint8

const (
	logoutOK          logoutResult = iota // the token was valid; its sessions (maybe none) ended
	logoutRefused                         // the token was refused (signature, claims, audience)
	logoutReplayed                        // the token's jti was already used
	logoutUnavailable                     // the store or the provider's keys did not answer (503)
	numLogoutResults
)

var logoutResults = [numLogoutResults]string{"ok", "refused", "replayed", "unavailable"}

// NewMetrics registers the engine's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	decisions := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "authbridge_decisions_total",
		Help: "Decisions by front, outcome (allow, redirect, deny, error) and reason class.",
	}, []string{"front", "outcome", "reason"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "authbridge_decision_duration_seconds",
		Help:    "Time to decide one request, by front.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"front"})
	started := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "authbridge_logins_started_total", Help: "Logins started: browsers sent to the provider.",
	})
	completed := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "authbridge_logins_completed_total", Help: "Logins completed: a callback stored a new session.",
	})
	failed := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "authbridge_logins_failed_total", Help: "Callbacks that did not complete a login, by reason.",
	}, []string{"reason"})
	refreshes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "authbridge_refreshes_total", Help: "Access-token refreshes of a session, by result (one per refresh, however many requests waited for it).",
	}, []string{"result"})
	backchannel := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "authbridge_backchannel_logouts_total", Help: "OIDC back-channel logout tokens received, by result.",
	}, []string{"result"})
	reg.MustRegister(decisions, latency, started, completed, failed, refreshes, backchannel)

	m := &Metrics{fronts: make(map[string]*frontMetrics), loginsStart: started, loginsDone: completed}
	for _, f := range []string{FrontExtAuthz, FrontForwardAuth, FrontNginx, FrontHTTP} {
		fm := &frontMetrics{latency: latency.WithLabelValues(f)}
		for c, l := range classes {
			fm.decisions[c] = decisions.WithLabelValues(f, l.outcome, l.reason)
		}
		m.fronts[f] = fm
	}
	for i, r := range loginFailures {
		m.loginsFailed[i] = failed.WithLabelValues(r)
	}
	for i, r := range refreshResults {
		m.refreshes[i] = refreshes.WithLabelValues(r)
	}
	for i, r := range logoutResults {
		m.backchannel[i] = backchannel.WithLabelValues(r)
	}
	return m
}

// observe counts and times one decision. Logins are counted here too, from the decision's class, so that
// every path that starts or finishes one (the session check, /oauth2/start, the callback) counts alike.
func (m *Metrics) observe(r *Request, d *Decision, err error, took time.Duration) {
	c := classify(r, d, err)
	if fm, ok := m.fronts[r.Front]; ok { // a front of ours: no unbounded label values
		fm.decisions[c].Inc()
		fm.latency.Observe(took.Seconds())
	}
	switch c {
	case classLogin:
		m.loginsStart.Inc()
	case classLoginComplete:
		m.loginsDone.Inc()
	case classLoginFailed:
		m.loginsFailed[loginFailureOf(d.Reason)].Inc()
	case classUnavailable:
		if pathOf(r.URI) == PathCallback {
			m.loginsFailed[loginUnavailable].Inc()
		}
	}
}

// The reasons classify tells apart by text: one constant each, shared with where the engine decides, so
// rewording a reason cannot silently move its decisions into another class.
const (
	reasonBearerAllowed   = "valid bearer token"
	reasonPublic          = "public route"
	reasonLoginComplete   = "login complete"
	reasonSignedOut       = "signed out"
	reasonMalformedBearer = "malformed bearer credential"
)

// classify maps a decision to its reason class. Allowed decisions, the hot path, are told apart by one
// string compare each; the Reason texts are the engine's own constants.
func classify(r *Request, d *Decision, err error) class {
	if err != nil {
		return classUnavailable
	}
	switch d.Outcome {
	case Allow:
		switch d.Reason {
		case reasonBearerAllowed:
			return classBearer
		case reasonPublic:
			return classPublic
		}
		return classSession
	case Redirect:
		switch {
		case d.Reason == reasonLoginComplete:
			return classLoginComplete
		case d.Reason == reasonSignedOut:
			return classSignedOut
		}
		return classLogin
	}
	bearerDecision := strings.HasPrefix(d.Reason, "bearer token") || d.Reason == reasonMalformedBearer
	switch p := pathOf(r.URI); {
	case p == PathCallback && d.Status != http.StatusRequestHeaderFieldsTooLarge && !bearerDecision && !r.NoRedirect:
		return classLoginFailed
	case p == PathSignOut && (d.Status == http.StatusForbidden || d.Status == http.StatusMethodNotAllowed):
		return classSignOutRefused
	}
	switch d.Status {
	case http.StatusBadRequest:
		return classBadRequest
	case http.StatusUnauthorized:
		if bearerDecision {
			return classBearerRefused
		}
		return classUnauthenticated
	case http.StatusForbidden:
		return classForbidden
	case http.StatusRequestURITooLong, http.StatusRequestHeaderFieldsTooLarge:
		return classTooLarge
	case http.StatusInternalServerError:
		return classMisconfigured
	}
	return classOtherDeny
}

// loginFailureOf maps the Reason of a refused callback (callback, callbackParams, providerError) to its
// label.
func loginFailureOf(reason string) loginFailure {
	switch reason {
	case "provider error":
		return loginProviderError
	case "callback without state or code", "no pending login for this state in this browser":
		return loginNoPending
	case "login expired":
		return loginExpired
	case "code exchange or id token refused":
		return loginRefused
	case "replayed state":
		return loginReplayed
	case "malformed callback query", "both error and code", "iss parameter is not the issuer", "iss parameter missing":
		return loginInvalidCallback
	}
	if strings.HasPrefix(reason, "repeated ") {
		return loginInvalidCallback
	}
	return loginOther
}

// storeFailure is the refresh result of a store error: the session gone, or the store not answering.
func storeFailure(err error) refreshResult {
	if errors.Is(err, session.ErrNotFound) {
		return refreshSessionGone
	}
	return refreshStoreError
}

// providerFailure is the refresh result of the provider's error: a refusal ends the session, anything
// else means it did not answer.
func providerFailure(err error) refreshResult {
	if errors.Is(err, login.ErrInvalidGrant) || errors.Is(err, login.ErrInvalidToken) {
		return refreshInvalidGrant
	}
	return refreshProviderDown
}

func (m *Metrics) refreshed(r refreshResult) {
	if m != nil {
		m.refreshes[r].Inc()
	}
}

// loggedOut counts one back-channel logout by the error BackchannelLogout returned.
func (m *Metrics) loggedOut(err error) {
	if m == nil {
		return
	}
	r := logoutOK
	switch {
	case errors.Is(err, errLogoutReplayed):
		r = logoutReplayed
	case errors.Is(err, ErrLogoutToken):
		r = logoutRefused
	case err != nil:
		r = logoutUnavailable
	}
	m.backchannel[r].Inc()
}

// Refused counts a request that front answered without asking the engine (a 400 for a malformed
// description, a 403 for a peer outside trusted_proxies), as a denied decision. A nil Engine (a front
// tested for its refusals alone) counts nothing.
func (e *Engine) Refused(front string, why Refusal) {
	if e == nil || e.o.Metrics == nil {
		return
	}
	fm, ok := e.o.Metrics.fronts[front]
	if !ok {
		return
	}
	c := classBadRequest
	if why == RefusedUntrusted {
		c = classUntrusted
	}
	fm.decisions[c].Inc()
}
