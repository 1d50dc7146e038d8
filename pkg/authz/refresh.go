package authz

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/authbridge/authbridge/pkg/login"
	"github.com/authbridge/authbridge/pkg/session"
)

// errRefreshWait means another replica's refresh of this session did not finish within Refresh.Wait.
var errRefreshWait = errors.New("authz: refresh by another replica still running")

// refreshPoll is how often a waiting request re-reads a session that another replica is refreshing.
const refreshPoll = 20 * time.Millisecond

// refreshDue reports whether s's access token is inside the refresh-ahead window (or expired).
func (e *Engine) refreshDue(s *session.Session, now time.Time) bool {
	return !s.Expiry.IsZero() && !now.Add(e.o.Lifetimes.RefreshAhead).Before(s.Expiry)
}

// refresh renews the access token of s, at most once per session across every replica. It returns the
// session to use, or a decision when the session cannot go on, or an error when neither a fresh nor the
// current token can be used (fail closed).
func (e *Engine) refresh(ctx context.Context, r *Request, t session.Ticket, s *session.Session) (*session.Session, *Decision, error) {
	now := e.now()
	if s.RefreshToken == "" {
		if now.Before(s.Expiry) {
			return s, nil, nil
		}
		d, err := e.unauthenticated(r, "access token expired and no refresh token")
		return nil, d, err
	}
	// One refresh per session in this process; the lease makes it one across processes. The work is
	// detached from this request: once the provider has rotated the refresh token, the answer must be
	// stored even if the request that started it has gone.
	ch := e.refreshes.DoChan(t.LogID(), func() (v any, err error) {
		// A panic here would be re-raised by singleflight on a goroutine of its own, where nothing can
		// recover it, and end the process. It is raised again on each waiting request's goroutine instead,
		// where the front's recovery answers 503.
		defer func() {
			if p := recover(); p != nil {
				err = &refreshPanic{value: p, stack: debug.Stack()}
			}
		}()
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.o.Refresh.Wait+e.o.Refresh.Lease+30*time.Second)
		defer cancel()
		wctx, span := refreshSpan(wctx)
		fresh, result, err := e.refreshShared(wctx, t, s)
		e.o.Metrics.refreshed(result)
		endRefreshSpan(span, result, err)
		return fresh, err
	})
	var res singleflight.Result
	select {
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	case res = <-ch:
	}
	err := res.Err
	if rp := (*refreshPanic)(nil); errors.As(err, &rp) {
		panic(rp)
	}
	switch {
	case err == nil:
		return res.Val.(*session.Session), nil, nil
	case errors.Is(err, session.ErrNotFound):
		d, err := e.unauthenticated(r, "session ended while refreshing")
		return nil, d, err
	case errors.Is(err, login.ErrInvalidGrant), errors.Is(err, login.ErrInvalidToken):
		e.log.Info("refresh refused, session ends", "session", t.LogID(), "err", err)
		if derr := e.o.Sessions.Delete(ctx, t); derr != nil {
			return nil, nil, derr
		}
		d, err := e.unauthenticated(r, "refresh refused by provider")
		return nil, d, err
	case e.now().Before(s.Expiry):
		// The provider (or the other replica) is slow or down, but the token still works: use it. Now, not
		// when the request came: the refresh may have waited for the provider, another replica or its turn.
		e.log.Warn("refresh not done, using current token", "session", t.LogID(), "err", err)
		return s, nil, nil
	}
	return nil, nil, fmt.Errorf("refresh expired token: %w", err)
}

// refreshPanic is a panic caught in the shared refresh, with the stack where it happened.
type refreshPanic struct {
	value any
	stack []byte
}

func (p *refreshPanic) Error() string      { return fmt.Sprintf("authz: panic during refresh: %v", p.value) }
func (p *refreshPanic) PanicStack() []byte { return p.stack }

// refreshShared refreshes under the session's lease, or waits for the replica that holds it and uses
// the tokens it stores. A waiter never calls the token endpoint itself unless the lease is free again
// (the holder finished without storing, or died): then it takes the lease and refreshes. The result
// says how it ended, for the metrics.
func (e *Engine) refreshShared(ctx context.Context, t session.Ticket, s *session.Session) (*session.Session, refreshResult, error) {
	owner, err := login.Random()
	if err != nil {
		return nil, refreshStoreError, err
	}
	lease := e.o.Sessions.Lease(t, owner)
	start := time.Now()
	for {
		ok, err := lease.Acquire(ctx, e.o.Refresh.Lease)
		if err != nil {
			return nil, refreshStoreError, err
		}
		if ok {
			return e.refreshHolding(ctx, t, lease)
		}
		if time.Since(start) >= e.o.Refresh.Wait {
			return nil, refreshWaitTimeout, errRefreshWait
		}
		select {
		case <-ctx.Done():
			return nil, refreshWaitTimeout, ctx.Err()
		case <-time.After(refreshPoll):
		}
		cur, err := e.o.Sessions.LoadFresh(ctx, t)
		if err != nil {
			return nil, storeFailure(err), err // ErrNotFound: signed out meanwhile
		}
		if cur.AccessToken != s.AccessToken || !e.refreshDue(cur, e.now()) {
			return cur, refreshWaited, nil // the holder stored new tokens
		}
	}
}

// refreshHolding calls the provider while holding the lease and stores the answer with compare-and-swap.
func (e *Engine) refreshHolding(ctx context.Context, t session.Ticket, lease *session.Lease) (*session.Session, refreshResult, error) {
	defer func() { _ = lease.Release(context.WithoutCancel(ctx)) }()
	// Re-read under the lease: another replica may have refreshed between our read and the lease.
	s, err := e.o.Sessions.LoadFresh(ctx, t)
	if err != nil {
		return nil, storeFailure(err), err
	}
	if !e.refreshDue(s, e.now()) || s.RefreshToken == "" {
		return s, refreshWaited, nil
	}
	stop := e.keepLease(ctx, lease)
	// While the token still works, a refresh that would wait for its turn longer than a request waits for
	// a refresh is put off: the token is used as it is, and a later check refreshes it. An expired token
	// waits as long as this refresh may run.
	maxWait := e.o.Refresh.Wait
	if !e.now().Before(s.Expiry) {
		maxWait = time.Hour
		if d, ok := ctx.Deadline(); ok {
			maxWait = time.Until(d)
		}
	}
	wait, ok := e.tokenRate.reserve(e.now(), maxWait)
	if !ok {
		stop()
		return s, refreshRateLimited, nil
	}
	if err := sleep(ctx, wait); err != nil {
		stop()
		return nil, refreshRateLimited, err
	}
	tok, err := e.o.Provider.Refresh(ctx, s.RefreshToken)
	lost := stop()
	if err != nil {
		return nil, providerFailure(err), err
	}
	done := refreshOK
	if lost {
		done = refreshLeaseLost
	}
	retried := false
	for range 4 {
		fresh, err := e.apply(s, tok)
		if err != nil {
			return nil, refreshInvalidGrant, err
		}
		ok, err := e.update(ctx, t, fresh, e.now())
		switch {
		case ok:
			if err != nil { // stored, but not announced or indexed
				e.log.Error("store refreshed session", "session", t.LogID(), "err", err)
			}
			e.log.Debug("refreshed", "session", t.LogID())
			return fresh, done, nil
		case err != nil && !retried:
			// The provider has rotated the refresh token, so a lost write ends the session at its next
			// refresh. A store timeout may be a hiccup: try once more. Should the first write have landed
			// after all, the swap now fails and the record is re-read below.
			retried = true
			e.log.Warn("store refreshed session, retrying", "session", t.LogID(), "err", err)
			continue
		case err != nil:
			// Serve this request with the new access token; the lease's expiry lets another replica retry.
			e.log.Error("store refreshed session", "session", t.LogID(), "err", err)
			return fresh, refreshStoreError, nil
		}
		// The record changed under us (a touch) or is gone (sign-out, which must stay final).
		if s, err = e.o.Sessions.LoadFresh(ctx, t); err != nil {
			return nil, storeFailure(err), err
		}
	}
	return nil, refreshStoreError, errors.New("authz: session kept changing during refresh")
}

// apply returns a copy of s carrying the tokens of a refresh.
func (e *Engine) apply(s *session.Session, tok *login.Tokens) (*session.Session, error) {
	fresh := *s
	fresh.AccessToken, fresh.Expiry = tok.AccessToken, tok.Expiry
	if tok.RefreshToken != "" {
		// The rotated token replaces the old one in the same write as the new access token: the old one
		// is kept nowhere, so it can never be presented again after a successful store.
		fresh.RefreshToken = tok.RefreshToken
	}
	if tok.IDToken != "" {
		fresh.IDToken = tok.IDToken
	}
	if c := tok.Claims; c != nil {
		if c.Subject != s.Subject {
			return nil, fmt.Errorf("%w: refreshed id token names another subject", login.ErrInvalidToken)
		}
		fresh.Email, fresh.Groups = c.Email, c.Groups
		fresh.Claims = e.sessionClaims(c)
	}
	return &fresh, nil
}

// keepLease renews the lease every third of its TTL until the returned stop is called, so a slow
// provider does not let the lease lapse and a second replica start a refresh of its own. A renewal the
// store fails to answer is retried at the next tick; only a lease found taken ends the renewals, and stop
// then reports it lost.
func (e *Engine) keepLease(ctx context.Context, lease *session.Lease) (stop func() (lost bool)) {
	done := make(chan struct{})
	finished := make(chan struct{})
	var lost bool // written by the renewer before finished is closed
	go func() {
		defer close(finished)
		tick := time.NewTicker(e.o.Refresh.Lease / 3)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				ok, err := lease.Renew(ctx, e.o.Refresh.Lease)
				if err != nil {
					// The store did not answer in time; the lease still has two ticks to live, so try
					// again rather than let it lapse while the provider is answering.
					e.log.Warn("renew refresh lease", "err", err)
					continue
				}
				if !ok {
					e.log.Warn("refresh lease lost")
					lost = true
					return
				}
			}
		}
	}()
	return func() bool { close(done); <-finished; return lost }
}
