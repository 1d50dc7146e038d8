package authz

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/authbridge/authbridge/pkg/login"
	"github.com/authbridge/authbridge/pkg/session"
)

// unauthenticated answers a request that has no usable session: browsers are sent to log in, everything
// else gets 401 with a JSON body naming the login URL (a POST is never turned into a redirect that
// would lose its body).
func (e *Engine) unauthenticated(ctx context.Context, r *Request, reason string) (*Decision, error) {
	if !r.NoRedirect && isNavigation(r) {
		d, err := e.start(ctx, r, r.URI)
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

// start begins a login: a pending login bound to this browser by the pre-auth cookie, and a redirect
// to the provider. rd is where the browser goes afterwards; it is validated now.
func (e *Engine) start(ctx context.Context, r *Request, rd string) (*Decision, error) {
	returnTo := e.o.Redirects.Clean(rd, origin(r))
	if returnTo == "" {
		returnTo = "/"
	}
	if r.Client != "" && e.o.LoginsPerClient > 0 {
		n, err := e.o.Sessions.CountLogin(ctx, r.Client, e.o.Lifetimes.Login)
		if err != nil {
			return nil, err
		}
		if n > int64(e.o.LoginsPerClient) {
			if n == int64(e.o.LoginsPerClient)+1 {
				e.log.Warn("too many logins started from one client", "limit", e.o.LoginsPerClient)
			}
			d := deny(http.StatusTooManyRequests, "too many logins started from your address; please try again in a few minutes\n",
				"text/plain; charset=utf-8", "login limit per client")
			d.Header.Set("Retry-After", strconv.Itoa(int(e.o.Lifetimes.Login.Seconds())))
			return d, nil
		}
	}
	a, err := e.o.Provider.Start()
	if err != nil {
		return nil, err
	}
	// One pre-auth cookie per browser, reused while it lives, so logins in several tabs do not
	// overwrite each other's binding.
	binding := cookieValue(r.Cookie, e.loginName)
	if len(binding) < 32 {
		if binding, err = login.Random(); err != nil {
			return nil, err
		}
	}
	p := &session.Pending{Binding: bindingHash(binding), Nonce: a.Nonce, Verifier: a.Verifier, ReturnTo: returnTo, Created: e.now()}
	if err := e.o.Sessions.PutPending(ctx, a.State, p, e.o.Lifetimes.Login); err != nil {
		return nil, err
	}
	return &Decision{
		Outcome:  Redirect,
		Status:   http.StatusFound,
		Location: a.URL,
		Cookies:  []*http.Cookie{e.cookie(e.loginName, binding, int(e.o.Lifetimes.Login.Seconds()))},
		Header:   http.Header{"Cache-Control": {"no-store"}},
		Reason:   "login started",
	}, nil
}

// callback finishes a login: the state must name a pending login started by this very browser, the
// code is exchanged with its PKCE verifier, and the ID token must carry its nonce.
func (e *Engine) callback(ctx context.Context, r *Request) (*Decision, error) {
	q := query(r.URI)
	if q.Get("error") != "" {
		// The provider refused (e.g. the user denied consent); its error code is safe to show.
		e.log.Info("provider returned an error to the callback", "error", q.Get("error"))
		return deny(http.StatusForbidden, "login was refused by the identity provider\n", "text/plain; charset=utf-8", "provider error"), nil
	}
	state, code := q.Get("state"), q.Get("code")
	if state == "" || code == "" {
		return badLogin("callback without state or code"), nil
	}
	p, err := e.o.Sessions.TakePending(ctx, state)
	if errors.Is(err, session.ErrNotFound) {
		e.log.Warn("callback for unknown or used state", "host", r.Host)
		return badLogin("unknown, expired or replayed state"), nil
	}
	if err != nil {
		return nil, err
	}
	binding := cookieValue(r.Cookie, e.loginName)
	if binding == "" || subtle.ConstantTimeCompare([]byte(bindingHash(binding)), []byte(p.Binding)) != 1 {
		e.log.Warn("callback from a browser that did not start the login", "host", r.Host)
		return badLogin("state not bound to this browser"), nil
	}
	tok, err := e.o.Provider.Exchange(ctx, code, p.Verifier, p.Nonce)
	if errors.Is(err, login.ErrInvalidGrant) || errors.Is(err, login.ErrInvalidToken) {
		e.log.Warn("login refused", "err", err)
		return badLogin("code exchange or id token refused"), nil
	}
	if err != nil {
		return nil, err
	}
	t, err := session.NewTicket()
	if err != nil {
		return nil, err
	}
	now := e.now()
	s := &session.Session{
		Subject: tok.Claims.Subject, Email: tok.Claims.Email, Groups: tok.Claims.Groups, SID: tok.Claims.SID,
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
	e.log.Info("login", "session", t.LogID(), "sub", s.Subject)
	maxAge := int(e.o.Lifetimes.Max.Seconds())
	return &Decision{
		Outcome:  Redirect,
		Status:   http.StatusFound,
		Location: p.ReturnTo,
		Cookies:  []*http.Cookie{e.cookie(e.o.Cookie.Name, t.String(), maxAge), e.cookie(e.loginName, "", -1)},
		Header:   http.Header{"Cache-Control": {"no-store"}},
		Reason:   "login complete",
	}, nil
}

// signOut deletes the session, clears the cookie and sends the browser to the provider's logout and
// from there to rd (validated). If the store cannot delete, it fails rather than pretend.
func (e *Engine) signOut(ctx context.Context, r *Request) (*Decision, error) {
	returnTo := e.o.Redirects.Clean(queryParam(r.URI, "rd"), origin(r))
	if returnTo == "" {
		returnTo = origin(r) + "/"
		if e.o.Redirects.Clean(returnTo, "") == "" {
			returnTo = ""
		}
	}
	var idToken string
	if t, err := session.ParseTicket(cookieValue(r.Cookie, e.o.Cookie.Name)); err == nil {
		s, err := e.o.Sessions.Load(ctx, t)
		switch {
		case err == nil:
			idToken = s.IDToken
		case !errors.Is(err, session.ErrNotFound):
			return nil, err
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
	if loc == "" {
		loc = "/"
	}
	return &Decision{
		Outcome:  Redirect,
		Status:   http.StatusFound,
		Location: loc,
		Cookies:  []*http.Cookie{e.cookie(e.o.Cookie.Name, "", -1)},
		Header:   http.Header{"Cache-Control": {"no-store"}},
		Reason:   "signed out",
	}, nil
}

// cookie builds one of our cookies with the configured attributes; maxAge < 0 deletes it.
func (e *Engine) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: name, Value: value, Path: "/", Domain: e.o.Cookie.Domain, MaxAge: maxAge,
		Secure: e.o.Cookie.Secure, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	}
}

func bindingHash(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
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
