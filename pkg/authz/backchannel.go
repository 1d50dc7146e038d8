package authz

import (
	"context"
	"errors"
	"fmt"

	"github.com/authbridge/authbridge/pkg/login"
)

// ErrLogoutToken wraps every reason a back-channel logout token is refused (bad signature, audience,
// claims, or a replayed jti); the front answers 400. Other errors from BackchannelLogout mean the store
// or the provider's keys could not be reached (503), so the provider retries.
var ErrLogoutToken = errors.New("authz: logout token refused")

// errLogoutReplayed refuses a logout token whose jti was already used.
var errLogoutReplayed = fmt.Errorf("%w: jti already used", ErrLogoutToken)

// BackchannelLogout ends the sessions an OIDC back-channel logout token names: those that came from its
// sid, or, with only a sub, every session of that user. It returns how many sessions it ended.
func (e *Engine) BackchannelLogout(ctx context.Context, raw string) (n int, err error) {
	defer func() { e.o.Metrics.loggedOut(err) }()
	c, err := e.o.Provider.VerifyLogoutToken(ctx, raw)
	if errors.Is(err, login.ErrInvalidLogoutToken) {
		e.log.Warn("back-channel logout token refused", "err", err)
		return 0, fmt.Errorf("%w: %w", ErrLogoutToken, err)
	}
	if err != nil {
		return 0, err
	}
	// Remembered for as long as the token could still be accepted, so it is never accepted twice.
	first, err := e.o.Sessions.Once(ctx, "jti", c.JTI, login.LogoutReplayWindow)
	if err != nil {
		return 0, err
	}
	if !first {
		e.log.Warn("back-channel logout token replayed")
		return 0, errLogoutReplayed
	}
	if c.SID != "" {
		n, err = e.o.Sessions.EndSID(ctx, c.SID)
	} else {
		n, err = e.o.Sessions.EndSubject(ctx, c.Subject)
	}
	if err != nil {
		// The provider retries a logout that got no 2xx: its retry must not be refused as a replay.
		if ferr := e.o.Sessions.ForgetOnce(context.WithoutCancel(ctx), "jti", c.JTI); ferr != nil {
			e.log.Warn("forget failed back-channel logout's jti", "err", ferr)
		}
		return n, err
	}
	e.log.Info("back-channel logout", "subject", e.subjectHash(c.Subject), "by_sid", c.SID != "", "ended", n)
	return n, nil
}
