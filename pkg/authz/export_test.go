package authz

import (
	"context"
	"fmt"
	"time"

	"github.com/authbridge/authbridge/pkg/session"
)

// ResealReturnTo re-seals the pending-login cookie name=value with another return URL, as an older
// version may have written it (a relative "/"), for tests of the callback's handling of such logins.
func (e *Engine) ResealReturnTo(name, value, returnTo string) (string, error) {
	p, err := e.sealer.open(name, value)
	if err != nil {
		return "", err
	}
	p.ReturnTo = returnTo
	return e.sealer.seal(name, p)
}

// RefreshAsLeaseHolder runs the refresh of the session behind t as a replica that loaded it before
// another replica's refresh and got the refresh lease only after that refresh was stored.
func (e *Engine) RefreshAsLeaseHolder(ctx context.Context, t session.Ticket) (*session.Session, error) {
	lease := e.o.Sessions.Lease(t, "late-replica")
	ok, err := lease.Acquire(ctx, time.Minute)
	if err != nil || !ok {
		return nil, fmt.Errorf("acquire lease: ok=%v err=%w", ok, err)
	}
	s, _, err := e.refreshHolding(ctx, t, lease)
	return s, err
}
