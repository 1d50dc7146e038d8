package authz

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/authbridge/authbridge/pkg/login"
	"github.com/authbridge/authbridge/pkg/session"
)

// unauthenticated answers a request that has no usable session: browsers are sent to log in, everything
// else gets 401 with a JSON body naming the login URL (a POST is never turned into a redirect that
// would lose its body).
func (e *Engine) unauthenticated(r *Request, reason string) (*Decision, error) {
	if !r.NoRedirect && isNavigation(r) {
		d, err := e.start(r, r.URI)
		if d != nil {
			d.Reason = reason + "; login started"
		}
		return d, err
	}
	loginURL := origin(r) + PathStart + "?rd=" + url.QueryEscape(r.URI)
	body := `{"error":"unauthenticated","login_url":` + jsonString(loginURL) + "}\n"
	d := deny(http.StatusUnauthorized, body, "application/json", reason)
	d.Header.Set("WWW-Authenticate", `Bearer realm="authbridge"`)
	return d, nil
}

// start begins a login: the pending login (state, nonce, PKCE verifier, return URL) is sealed into a
// short-lived cookie of its own, and the browser goes to the provider. Nothing is written to the store, so
// unauthenticated traffic can neither fill it nor use up anyone's budget. rd is where the browser goes
// afterwards; it is validated now.
func (e *Engine) start(r *Request, rd string) (*Decision, error) {
	if len(rd) > MaxReturnURL {
		return returnTooLong(), nil
	}
	returnTo := e.o.Redirects.Clean(rd, origin(r))
	if returnTo == "" {
		if rd != "" {
			e.log.Warn("return URL refused", "host", r.Host, "client", r.Client)
		}
		if returnTo = e.home(r); returnTo == "" {
			return badHost(), nil
		}
	}
	if len(returnTo) > maxCleanReturn {
		return returnTooLong(), nil
	}
	a, err := e.o.Provider.Start()
	if err != nil {
		return nil, err
	}
	now := e.now()
	name := e.pendingName(a.State)
	value, err := e.sealer.seal(name, &pendingLogin{State: a.State, Nonce: a.Nonce, Verifier: a.Verifier, ReturnTo: returnTo, Created: now})
	if err != nil {
		return nil, fmt.Errorf("seal pending login: %w", err)
	}
	drop := e.dropOldLogins(r.Cookie, len(value), now)
	cookies := make([]*http.Cookie, 0, len(drop)+1)
	for _, n := range drop {
		cookies = append(cookies, e.cookie(n, "", -1))
	}
	cookies = append(cookies, e.cookie(name, value, int(e.o.Lifetimes.Login.Seconds())))
	return &Decision{
		Outcome:  Redirect,
		Status:   http.StatusFound,
		Location: a.URL,
		Cookies:  cookies,
		Header:   http.Header{"Cache-Control": {"no-store"}},
		Reason:   "login started",
	}, nil
}

// callback finishes a login: the state must name a pending login sealed into a cookie of this very
// browser, not expired; the code is exchanged with its PKCE verifier, and the ID token must carry its
// nonce. Only then does the store see the login: a single-use marker under the hash of the state, so
// that the same callback cannot complete twice, and the new session.
func (e *Engine) callback(ctx context.Context, r *Request) (*Decision, error) {
	q, reason := e.callbackParams(r.URI)
	if reason != "" {
		e.log.Warn("callback refused", "reason", reason, "host", r.Host, "client", r.Client)
		return badCallback(reason), nil
	}
	if q.Has("error") {
		return e.providerError(ctx, r, q)
	}
	state, code := q.Get("state"), q.Get("code")
	if state == "" || code == "" {
		return badLogin("callback without state or code"), nil
	}
	p, err := e.takePending(r.Cookie, state)
	if err != nil {
		// Another browser, a tampered or expired-and-dropped cookie, or a replay after the cookie was
		// cleared: all look the same here, and none is worth more than a Warn (never with the value).
		e.log.Warn("callback without a matching pending login in this browser", "host", r.Host, "client", r.Client)
		return badLogin("no pending login for this state in this browser"), nil
	}
	clear := e.cookie(e.pendingName(state), "", -1)
	now := e.now()
	if e.loginExpired(p, now) {
		e.log.Warn("callback for an expired login", "host", r.Host, "client", r.Client)
		return withCookie(badLogin("login expired"), clear), nil
	}
	tok, err := e.o.Provider.Exchange(ctx, code, p.Verifier, p.Nonce)
	if errors.Is(err, login.ErrInvalidGrant) || errors.Is(err, login.ErrInvalidToken) {
		e.log.Warn("login refused", "err", err, "client", r.Client)
		return withCookie(badLogin("code exchange or id token refused"), clear), nil
	}
	if err != nil {
		return nil, err
	}
	// The marker is written only now, after the provider accepted the code: a callback that is merely
	// well-formed (a cookie anyone can get from /oauth2/start, any code) writes nothing.
	first, err := e.o.Sessions.Once(ctx, "login", state, max(p.Created.Add(e.o.Lifetimes.Login).Sub(now), time.Second))
	if err != nil {
		return nil, err
	}
	if !first {
		e.log.Warn("callback replayed", "host", r.Host, "client", r.Client)
		return withCookie(badLogin("replayed state"), clear), nil
	}
	t, err := session.NewTicket()
	if err != nil {
		return nil, err
	}
	s := &session.Session{
		Subject: tok.Claims.Subject, Email: tok.Claims.Email, Groups: tok.Claims.Groups, SID: tok.Claims.SID,
		Claims:      e.sessionClaims(tok.Claims),
		AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, IDToken: tok.IDToken,
		Expiry: tok.Expiry, CreatedAt: now,
	}
	if err := e.save(ctx, t, s, now); err != nil {
		return nil, err
	}
	// A login replaces whatever session this browser had: the old one must not outlive it.
	if old, err := session.ParseTicket(cookieValue(r.Cookie, e.o.Cookie.Name)); err == nil {
		if err := e.o.Sessions.Delete(ctx, old); err != nil {
			e.log.Warn("delete replaced session", "err", err)
		}
	}
	e.log.Info("login", "session", t.LogID(), "subject", e.subjectHash(s.Subject))
	maxAge := int(e.o.Lifetimes.Max.Seconds())
	loc := p.ReturnTo
	if !strings.HasPrefix(loc, "https://") && !strings.HasPrefix(loc, "http://") {
		// A login started before return URLs were always absolute: "/" then meant this origin's root.
		loc = e.home(r)
	}
	return &Decision{
		Outcome:  Redirect,
		Status:   http.StatusFound,
		Location: loc,
		Cookies:  []*http.Cookie{e.cookie(e.o.Cookie.Name, t.String(), maxAge), clear},
		Header:   http.Header{"Cache-Control": {"no-store"}},
		Reason:   reasonLoginComplete,
	}, nil
}

// signOut deletes the session, clears the cookie and sends the browser to the provider's logout and
// from there to rd (validated), if the browser vouches that the user asked (signOutGate). Several session
// cookies all end (up to maxSignOutSessions), and none lends its ID token to the provider's logout. If the
// store cannot delete, it fails rather than pretend.
func (e *Engine) signOut(ctx context.Context, r *Request) (*Decision, error) {
	home := e.home(r)
	if home == "" {
		return badHost(), nil
	}
	if d := e.signOutGate(r); d != nil {
		return d, nil
	}
	returnTo := e.o.Redirects.Clean(queryParam(r.URI, "rd"), origin(r))
	if returnTo == "" {
		returnTo = home
	}
	var idToken string
	values := cookieValues(r.Cookie, e.o.Cookie.Name, maxSignOutSessions)
	for _, v := range values {
		t, err := session.ParseTicket(v)
		if err != nil {
			continue
		}
		if len(values) == 1 {
			s, err := e.o.Sessions.Load(ctx, t)
			switch {
			case err == nil:
				idToken = s.IDToken
			case !errors.Is(err, session.ErrNotFound):
				return nil, err
			}
		}
		if err := e.o.Sessions.Delete(ctx, t); err != nil {
			return nil, err
		}
		e.log.Info("sign out", "session", t.LogID())
	}
	loc := e.o.Provider.LogoutURL(idToken, returnTo)
	if loc == "" {
		loc = returnTo
	}
	status := http.StatusFound
	if r.Method == http.MethodPost {
		status = http.StatusSeeOther // the browser follows with a GET, whatever it makes of a 302
	}
	return &Decision{
		Outcome:  Redirect,
		Status:   status,
		Location: loc,
		Cookies:  []*http.Cookie{e.cookie(e.o.Cookie.Name, "", -1)},
		Header:   http.Header{"Cache-Control": {"no-store"}},
		Reason:   reasonSignedOut,
	}, nil
}

// cookie builds one of our cookies with the configured attributes; maxAge < 0 deletes it.
func (e *Engine) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: name, Value: value, Path: "/", Domain: e.o.Cookie.Domain, MaxAge: maxAge,
		Secure: e.o.Cookie.Secure, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	}
}

// withCookie adds a cookie to set (or clear) to d.
func withCookie(d *Decision, c *http.Cookie) *Decision {
	d.Cookies = append(d.Cookies, c)
	return d
}

// returnTooLong refuses a login whose return URL is over MaxReturnURL, before anything is set or stored.
func returnTooLong() *Decision {
	return deny(http.StatusRequestURITooLong, "the address to return to after login is too long\n",
		"text/plain; charset=utf-8", "return URL too long")
}

func badLogin(reason string) *Decision {
	return deny(http.StatusBadRequest, "this login link has expired or was already used; please reload the page you came from\n",
		"text/plain; charset=utf-8", reason)
}

func deny(status int, body, contentType, reason string) *Decision {
	if contentType == "" {
		contentType = "text/plain; charset=utf-8"
		body = http.StatusText(status) + "\n"
	}
	return &Decision{
		Outcome: Deny,
		Status:  status,
		Header:  http.Header{"Content-Type": {contentType}, "Cache-Control": {"no-store"}},
		Body:    body,
		Reason:  reason,
	}
}
