package authz

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/authbridge/authbridge/pkg/login"
	"github.com/authbridge/authbridge/pkg/session"
)

// Paths under which the engine answers login, callback and sign-out on any host it is asked about.
const (
	PathStart    = "/oauth2/start"
	PathCallback = "/oauth2/callback"
	PathSignOut  = "/oauth2/sign_out"
)

// CookieOptions says how the session cookie is written. The pending-login cookies share its attributes;
// each adds "-login-" and a short tag of its login's state to the name.
type CookieOptions struct {
	Name   string // e.g. "__Host-authbridge"
	Domain string // empty for a host-only cookie
	Secure bool
}

// Lifetimes bounds sessions and logins in time.
type Lifetimes struct {
	Idle         time.Duration // a session unused this long ends (store TTL, renewed on use)
	Max          time.Duration // a session ends this long after login, used or not
	RefreshAhead time.Duration // refresh the access token this long before it expires; 0: once expired
	Login        time.Duration // a started login must finish within this
}

// RefreshOptions coordinate token refresh across replicas.
type RefreshOptions struct {
	Wait  time.Duration // how long a request waits for another replica's refresh; default 2s
	Lease time.Duration // TTL of the per-session refresh lease, renewed while the call runs; default 3s
	// ReuseWindow is the provider's refresh-token reuse window (Auth0's "reuse interval"); 0 if none.
	// When a replica dies between the provider's answer and the store write, the next replica can only
	// refresh with the old token inside this window, so the lease is kept short enough to expire well
	// within it.
	ReuseWindow time.Duration
}

// Options configure an Engine.
type Options struct {
	Sessions  *session.Sessions
	Provider  *login.Provider
	Cookie    CookieOptions
	Lifetimes Lifetimes
	Refresh   RefreshOptions
	Policy    Policy
	Redirects Domains // where the browser may return to; see Domains
	// LoginKeys seal the pending logins that the pre-auth cookies carry: the first seals, every one
	// opens (rotation: add the new key last, then move it first, then drop the old one after
	// Lifetimes.Login). Each needs at least
	// 32 bytes, and every replica must have the same keys. Empty means a random key for this Engine
	// alone, which is only right for a single process (the memory store).
	LoginKeys [][]byte
	// Bearer verifies the bearer JWTs of API clients (a *bearer.Verifier); nil turns them off, and the
	// client's Authorization header then plays no part in any decision. See checkBearer.
	Bearer  BearerVerifier
	Metrics *Metrics         // may be nil
	Logger  *slog.Logger     // may be nil
	Now     func() time.Time // may be nil
}

// Engine decides. It is safe for concurrent use.
type Engine struct {
	o           Options
	policy      *CompiledPolicy
	log         *slog.Logger
	now         func() time.Time
	sealer      *sealer
	loginPrefix string             // name of the pending-login cookies before their state tag
	refreshes   singleflight.Group // one refresh per session per process
}

// New returns an Engine. Sessions and Provider are required.
func New(o Options) (*Engine, error) {
	if o.Sessions == nil || o.Provider == nil {
		return nil, errors.New("authz: Sessions and Provider are required")
	}
	if o.Cookie.Name == "" {
		return nil, errors.New("authz: cookie name is required")
	}
	sl, err := newSealer(o.LoginKeys)
	if err != nil {
		return nil, err
	}
	cp, err := CompilePolicy(o.Policy)
	if err != nil {
		return nil, err
	}
	e := &Engine{o: o, policy: cp, log: o.Logger, now: o.Now, sealer: sl, loginPrefix: o.Cookie.Name + "-login-"}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.o.Lifetimes.Login <= 0 {
		e.o.Lifetimes.Login = 10 * time.Minute
	}
	if e.o.Refresh.Wait <= 0 {
		e.o.Refresh.Wait = 2 * time.Second
	}
	if e.o.Refresh.Lease <= 0 {
		e.o.Refresh.Lease = 3 * time.Second
		if w := e.o.Refresh.ReuseWindow; w > 0 && w/3 < e.o.Refresh.Lease {
			e.o.Refresh.Lease = max(w/3, 100*time.Millisecond)
		}
	}
	return e, nil
}

// OwnsCookie reports whether a cookie of this name belongs to authbridge, so fronts can keep it from
// the upstream: the session cookie, the pending-login cookies, and the single "-login" cookie that
// versions before the sealed pending logins set (a browser may still send it for a few minutes).
func (e *Engine) OwnsCookie(name string) bool {
	return name == e.o.Cookie.Name || strings.HasPrefix(name, e.loginPrefix) || name == e.o.Cookie.Name+"-login"
}

// UpstreamCookie is the Cookie header the upstream gets: cookie without authbridge's own cookies (the
// session and pending-login cookies), which are the browser's credentials and no business of the app.
// changed is false (and nothing is allocated) when there were none.
func (e *Engine) UpstreamCookie(cookie string) (kept string, changed bool) {
	own := false
	for name := range cookieNames(cookie) {
		own = own || e.OwnsCookie(name)
	}
	if !own {
		return cookie, false
	}
	var b strings.Builder
	b.Grow(len(cookie))
	for rest := cookie; rest != ""; {
		var part string
		part, rest, _ = strings.Cut(rest, ";")
		p := strings.TrimSpace(part)
		if name, _, _ := strings.Cut(p, "="); p == "" || e.OwnsCookie(name) {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p)
	}
	return b.String(), true
}

// cookieNames yields the names in a Cookie header value.
func cookieNames(cookie string) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		for rest := cookie; rest != ""; {
			var part string
			part, rest, _ = strings.Cut(rest, ";")
			name, _, _ := strings.Cut(strings.TrimSpace(part), "=")
			if name != "" && !yield(name) {
				return
			}
		}
	}
}

// Decide concludes what happens to r. An error means the engine could not decide (the store or the
// provider did not answer): the front must fail closed (503) and must not clear any cookie.
func (e *Engine) Decide(ctx context.Context, r *Request) (*Decision, error) {
	start := time.Now() // wall time for the latency metric, whatever clock decides
	d, err := e.decide(ctx, r)
	if d != nil && d.Outcome != Allow && IsOAuth2Path(r.URI) {
		// Both fronts render Decision.Header on redirects and denials; an allowed request is the app's.
		d = withOAuth2Headers(d)
	}
	if e.o.Metrics != nil {
		e.o.Metrics.observe(r, d, err, time.Since(start))
	}
	if err != nil {
		e.log.Error("cannot decide", "front", r.Front, "host", r.Host, "err", err)
	} else if e.log.Enabled(ctx, slog.LevelDebug) {
		e.log.Debug("decided", "front", r.Front, "method", r.Method, "host", r.Host, "path", pathOf(r.URI),
			"outcome", d.Outcome.String(), "status", d.Status, "reason", d.Reason)
	}
	return d, err
}

// decide refuses an oversized Cookie header first (before any store lookup), then runs the steps in
// order: sign-out, login start, callback, then the session check. A gateway that cannot pass a redirect
// on (nginx auth_request) never gets these flows: they set cookies or act on the store (mark a state
// used, delete a session), and their answer would be lost.
func (e *Engine) decide(ctx context.Context, r *Request) (*Decision, error) {
	if len(r.Cookie) > MaxCookieHeader {
		e.log.Warn("cookie header too large", "bytes", len(r.Cookie), "host", r.Host, "client", r.Client)
		return cookieTooLarge(), nil
	}
	if r.NoRedirect {
		return e.check(ctx, r)
	}
	switch p := pathOf(r.URI); p {
	case PathSignOut, PathStart:
		// Where the browser goes next is never picked from two candidates.
		if !singleParam(r.URI, "rd") {
			return deny(http.StatusBadRequest, "Bad Request\n", "text/plain; charset=utf-8", "rd repeated or query malformed"), nil
		}
		if p == PathSignOut {
			return e.signOut(ctx, r)
		}
		return e.start(r, queryParam(r.URI, "rd"))
	case PathCallback:
		return e.callback(ctx, r)
	}
	return e.check(ctx, r)
}

// check decides an ordinary request from its route and its session.
func (e *Engine) check(ctx context.Context, r *Request) (*Decision, error) {
	rt, d := e.route(r)
	if d != nil {
		return d, nil
	}
	if e.o.Bearer != nil && r.Authorization != "" && !hasCookie(r.Cookie, e.o.Cookie.Name) {
		// An API client: no session cookie, and bearer tokens are on. With a session cookie as well, the
		// session decides and the header is replaced on allow, as without a verifier.
		return e.checkBearer(ctx, r, rt)
	}
	s, d, err := e.liveSession(ctx, r)
	if d != nil || err != nil {
		return d, err
	}
	if d, err := e.authorize(r, rt, s); d != nil || err != nil {
		return d, err
	}
	d = e.allow(s)
	if rt != nil && rt.headers != nil {
		addHeaders(d, rt.headers, s.Groups, s.Claims)
	}
	return d, nil
}

// hasCookie reports whether the Cookie header carries a cookie called name at all (see findCookie).
func hasCookie(header, name string) bool {
	_, n := findCookie(header, name)
	return n > 0
}

// liveSession is the session that r's one session cookie names, loaded, held to its absolute lifetime
// and with an access token refreshed when due; or, when there is none to use, the decision that says so
// (a login for a navigation, 401 otherwise; with the dead cookie cleared), or an error when the store or
// the provider could not answer.
func (e *Engine) liveSession(ctx context.Context, r *Request) (*session.Session, *Decision, error) {
	raw, n := findCookie(r.Cookie, e.o.Cookie.Name)
	switch {
	case n == 0:
		d, err := e.unauthenticated(r, "no session cookie")
		return nil, d, err
	case n > 1:
		// Never "first wins": a sibling domain could toss its own session in ahead of the user's. Not
		// cleared either (see forget).
		e.log.Warn("several session cookies", "count", n, "host", r.Host, "client", r.Client)
		d, err := e.unauthenticated(r, "several session cookies")
		return nil, d, err
	}
	// From here the one session cookie is ours to clear when it names no usable session.
	t, err := session.ParseTicket(raw)
	if err != nil {
		return e.dead(e.unauthenticated(r, "malformed session cookie"))
	}
	s, err := e.o.Sessions.Load(ctx, t)
	if errors.Is(err, session.ErrNotFound) {
		return e.dead(e.unauthenticated(r, "session not found"))
	}
	if err != nil {
		return nil, nil, err
	}
	now := e.now()
	if e.o.Lifetimes.Max > 0 && now.Sub(s.CreatedAt) >= e.o.Lifetimes.Max {
		if err := e.o.Sessions.Delete(ctx, t); err != nil {
			return nil, nil, err
		}
		return e.dead(e.unauthenticated(r, "session reached its maximum lifetime"))
	}
	if e.refreshDue(s, now) {
		fresh, d, err := e.refresh(ctx, r, t, s)
		if d != nil || err != nil {
			return e.dead(d, err)
		}
		s = fresh
	} else if e.touchDue(s, now) {
		// Renew the store TTL so an active session does not hit its idle timeout. This rewrites the
		// record only once per Idle/8, not on every request, and only if nobody changed it meanwhile
		// (a lost touch is harmless; a touch that overwrote a refresh would lose the rotated token).
		if _, err := e.update(ctx, t, s, now); err != nil {
			e.log.Warn("renew session ttl", "session", t.LogID(), "err", err)
		}
	}
	return s, nil, nil
}

// dead is forget for liveSession: no session, and d clears the cookie that named none.
func (e *Engine) dead(d *Decision, err error) (*session.Session, *Decision, error) {
	d, err = e.forget(d, err)
	return nil, d, err
}

func (e *Engine) touchDue(s *session.Session, now time.Time) bool {
	idle := e.o.Lifetimes.Idle
	return idle > 0 && now.Sub(s.Touched) >= idle/8
}

// save writes s as a new session with a TTL of the idle timeout, cut short by the absolute lifetime.
func (e *Engine) save(ctx context.Context, t session.Ticket, s *session.Session, now time.Time) error {
	s.Touched = now
	return e.o.Sessions.Save(ctx, t, s, e.ttl(s, now))
}

// update writes a copy of s, touched now, over the record s was loaded from if that is unchanged (see
// session.Sessions.Update). s itself may be shared through the cache and is left alone.
func (e *Engine) update(ctx context.Context, t session.Ticket, s *session.Session, now time.Time) (bool, error) {
	cp := *s
	cp.Touched = now
	return e.o.Sessions.Update(ctx, t, &cp, e.ttl(&cp, now))
}

// ttl is the store TTL for s written now: the idle timeout, cut short by the absolute lifetime.
func (e *Engine) ttl(s *session.Session, now time.Time) time.Duration {
	ttl := e.o.Lifetimes.Idle
	if e.o.Lifetimes.Max > 0 {
		if left := s.CreatedAt.Add(e.o.Lifetimes.Max).Sub(now); ttl <= 0 || left < ttl {
			ttl = left
		}
	}
	if ttl <= 0 {
		ttl = time.Second
	}
	return ttl
}

// allowed is a Decision and the values of its upstream headers in one allocation.
type allowed struct {
	d Decision
	v [3]string
}

func (e *Engine) allow(s *session.Session) *Decision {
	return allowWith(s.Bearer(), s.Subject, s.Email, "valid session")
}

// allowWith is an allowed Decision whose upstream gets these Authorization, user and email values (empty
// ones too, so that a gateway copying only present headers cannot let a client's copy through), in one
// allocation.
func allowWith(authorization, user, email, reason string) *Decision {
	a := &allowed{v: [3]string{authorization, user, email}}
	a.d = Decision{
		Outcome: Allow,
		Status:  http.StatusOK,
		Upstream: http.Header{
			HeaderAuthorization: a.v[0:1:1],
			HeaderUser:          a.v[1:2:2],
			HeaderEmail:         a.v[2:3:3],
		},
		Reason: reason,
	}
	return &a.d
}
