package faults_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestFault8_ProviderDown: the provider drops every connection for 5 s (5 min in the full run). Promise:
// sessions with valid tokens are allowed (≥ 99.9 %); a login whose callback arrives meanwhile gets an
// error answer within 5 s, never a session.
func TestFault8_ProviderDown(t *testing.T) {
	r := newRig(t, rigOptions{})
	cookies, ended := setup(r, 20, 4)
	l := r.startLoad(mix(cookies, ended), workers, interval)
	time.Sleep(time.Second)

	l.setPhase("down")
	var took time.Duration
	status, err := r.loginWithCallback(r.replicas[0], func() { r.idp.down.Store(true) }, &took)
	require.NoError(t, err)
	time.Sleep(span(5*time.Second, 5*time.Minute))
	r.idp.down.Store(false)
	l.setPhase("after")
	time.Sleep(time.Second)
	_, err = r.loginOnce(r.replicas[0])
	require.NoError(t, err, "a login once the provider is back")
	ts := l.stop(t)
	t.Logf("FAULT %s callback_while_down=%d in %s", t.Name(), status, took.Round(time.Millisecond))
	require.Zero(t, wronglyAllowed(ts), "wrongly allowed")
	require.GreaterOrEqual(t, ts["down"].validSuccess(), 0.999)
	require.GreaterOrEqual(t, status, http.StatusInternalServerError, "the callback while the provider is down")
	require.Less(t, took, 5*time.Second)
	require.Zero(t, r.lostSessions(cookies), "sessions lost")
}
