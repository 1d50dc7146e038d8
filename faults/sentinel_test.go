package faults_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/redistest"
)

// TestFault1_SentinelFailover: the Sentinel primary is killed (SIGKILL) under load; the sentinels promote
// a replica. Promise: 0 wrongly allowed; the failover window measured; after it every earlier session is
// valid; no READONLY errors (logins write) from 2 s after the switch (10 s in the full run).
func TestFault1_SentinelFailover(t *testing.T) {
	r := newRig(t, rigOptions{sentinel: true})
	cookies, l := r.begin(time.Second)
	// The sessions are on both replicas before the primary dies (the first sync can take a while).
	for synced := ""; synced != "2"; {
		var err error
		synced, err = redistest.Do(r.redis.Addr(), "WAIT", "2", "1000")
		require.NoError(t, err)
	}

	l.setPhase("failover")
	old := r.redis.Addr()
	start := time.Now()
	r.redis.Stop()
	var window time.Duration
	for window == 0 {
		require.Less(t, time.Since(start), 30*time.Second, "no failover")
		addr, err := redistest.Do(r.sentinels[0].Addr(), "SENTINEL", "get-master-addr-by-name", sentinelMaster)
		if err == nil && strings.ReplaceAll(addr, "\n", ":") != old {
			window = time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	l.setPhase("settling")
	time.Sleep(span(2*time.Second, 10*time.Second))
	l.setPhase("after")
	for range 5 {
		_, err := r.loginOnce(r.replicas[0])
		require.NoError(t, err, "a login (a write) after the switch")
	}
	time.Sleep(2 * time.Second)
	ts := l.stop(t)
	lost := r.lostSessions(cookies)
	t.Logf("FAULT %s failover_window=%s lost_sessions=%d", t.Name(), window.Round(10*time.Millisecond), lost)
	require.Zero(t, wronglyAllowed(ts), "wrongly allowed")
	require.Zero(t, ts["failover"].validRefused+ts["failover"].errs, "valid sessions during the failover: allowed or 503")
	require.Zero(t, ts["after"].status5xx+ts["after"].errs, "5xx after the switch")
	require.Zero(t, lost, "sessions lost")
}
