package faults_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/redistest"
)

// Load shape shared by the scenarios: 8 workers, one request every 20 ms each (≤ 400 decisions/s), so
// that the load leaves the 2-core machine room for the replicas and Redis.
const (
	workers  = 8
	interval = 20 * time.Millisecond
)

// begin logs in 20 sessions and signs out 4 more, starts the mixed load (whose callers send the ended
// cookies too) and lets it warm up; the cookies are the valid sessions'.
func (r *rig) begin(warm time.Duration) ([]string, *load) {
	cookies, ended := setup(r, 20, 4)
	l := r.startLoad(mix(cookies, ended), workers, interval)
	time.Sleep(warm)
	return cookies, l
}

// requireFailClosed checks the promise of a fault in the session store: nothing wrongly allowed; during
// phase, every valid session allowed or answered 503, never refused or failed; in phase "after", success
// of at least 99.9 %; no session lost.
func (r *rig) requireFailClosed(ts map[string]*tally, phase string, cookies []string) {
	t := r.t
	t.Helper()
	require.Zero(t, wronglyAllowed(ts), "wrongly allowed")
	require.Zero(t, ts[phase].validRefused, "a valid session refused other than with 503")
	require.Zero(t, ts[phase].errs)
	requireSuccess999(t, ts["after"])
	require.Zero(t, r.lostSessions(cookies), "sessions lost")
}

// setup logs in valid sessions and signs out a few more, whose cookies the load keeps sending.
func setup(r *rig, valid, gone int) (cookies, ended []string) {
	cookies = r.login(valid)
	ended = r.login(gone)
	for _, c := range ended {
		r.signOut(c)
	}
	return cookies, ended
}

// TestFault2_RedisDown: Redis is killed (SIGKILL) under load and started again from its last snapshot
// after 5 s (60 s in the full run). Promise: 0 wrongly allowed; decisions during the outage are 503
// (or allowed from the session cache while it is live), the 503s within the store timeout + 20 ms; ≥
// 99.9 % success from 5 s after Redis returns; no session lost; goroutines back to baseline.
func TestFault2_RedisDown(t *testing.T) {
	r := newRig(t, rigOptions{})
	rp := r.replicas[0]
	cookies, l := r.begin(2 * time.Second)
	_, err := redistest.Do(r.redis.Addr(), "SAVE") // the snapshot the restart loads
	require.NoError(t, err)
	base := rp.stats(t) // warmed up

	l.setPhase("down")
	r.redis.Stop()
	time.Sleep(span(3*time.Second, 60*time.Second))
	r.redis.Restart()
	l.setPhase("first 5s after")
	time.Sleep(5 * time.Second)
	l.setPhase("after")
	time.Sleep(2 * time.Second)
	ts := l.stop(t)

	lost := r.lostSessions(cookies)
	after := rp.stats(t)
	t.Logf("FAULT %s lost_sessions=%d rss_before=%.1fMB rss_after=%.1fMB heap_inuse_before=%.1fMB heap_inuse_after=%.1fMB goroutines_before=%.0f goroutines_after=%.0f",
		t.Name(), lost, base.rss/1e6, after.rss/1e6, base.heap/1e6, after.heap/1e6, base.goroutines, after.goroutines)
	require.Zero(t, wronglyAllowed(ts), "wrongly allowed")
	require.Zero(t, lost, "sessions lost")
	require.Zero(t, ts["down"].validRefused, "a valid session refused other than with 503 while Redis was down")
	requireSuccess999(t, ts["after"])
	require.Zero(t, ts["after"].errs)
	require.True(t, goroutinesBack(base, after), "goroutines back to baseline")
}

// TestFault3_RedisRestartedEmpty: Redis is killed and comes back empty (no persistence). Promise: 0
// wrongly allowed; old cookies get a login redirect or 401, never a 5xx; a new login works at once.
func TestFault3_RedisRestartedEmpty(t *testing.T) {
	r := newRig(t, rigOptions{})
	cookies, l := r.begin(time.Second)

	l.setPhase("restart")
	rp := r.replicas[0]
	emptied := func() float64 {
		return rp.sum(t, func(line string) bool {
			return strings.HasPrefix(line, `authbridge_session_cache_invalidations_total{scope="all"}`)
		})
	}
	before := emptied()
	start := time.Now()
	r.redis.Restart()
	// The sessions are gone once Redis answers empty and the replica has seen its subscription break
	// (which empties its session cache): from then on, an allow for one is wrongly allowed. Until then
	// the cache may still vouch for a session that nobody revoked; that window is measured.
	for emptied() == before {
		require.Less(t, time.Since(start), 5*time.Second, "the replica never noticed that Redis went away")
		time.Sleep(5 * time.Millisecond)
	}
	noticed := time.Since(start)
	l.invalidate(cookies...)
	loginStart := time.Now()
	_, err := r.loginOnce(r.replicas[0])
	took := time.Since(loginStart)
	require.NoError(t, err, "a new login right after the restart")
	// A request may meet a pooled connection to the dead server first: a single 503 while the pool
	// reconnects is no loop. From one second on, none.
	l.setPhase("first 1s after")
	time.Sleep(time.Second)
	l.setPhase("after")
	time.Sleep(2 * time.Second)
	ts := l.stop(t)
	t.Logf("FAULT %s replica_noticed_after=%s cached_allows_until_then=%d first_login_after_restart=%s", t.Name(),
		noticed.Round(time.Millisecond), ts["restart"].allowed, took.Round(time.Millisecond))
	require.Zero(t, wronglyAllowed(ts), "wrongly allowed")
	require.Zero(t, ts["after"].status5xx, "old cookies after the restart: never a 5xx")
	require.Zero(t, ts["after"].errs)
	require.Equal(t, len(cookies), r.refused(cookies), "every old cookie refused with a login")
}

// TestFault4_RedisLatency: every command to Redis takes 300 ms longer (a TCP proxy delays it). Promise:
// valid sessions are allowed (from the cache) or denied 503 within the store timeout, below Envoy's
// 200 ms; goroutines stay bounded; success is back within 2 s of the latency going.
func TestFault4_RedisLatency(t *testing.T) {
	r := newRig(t, rigOptions{proxy: true})
	rp := r.replicas[0]
	cookies, l := r.begin(time.Second)
	base := rp.stats(t)

	l.setPhase("slow")
	r.proxy.latency.Store(int64(300 * time.Millisecond))
	peak := base
	for range int(span(4*time.Second, 60*time.Second) / time.Second) {
		time.Sleep(time.Second)
		peak.goroutines = max(peak.goroutines, rp.stats(t).goroutines)
	}
	r.proxy.latency.Store(0)
	l.setPhase("first 2s after")
	time.Sleep(2 * time.Second)
	l.setPhase("after")
	time.Sleep(2 * time.Second)
	ts := l.stop(t)
	over, total := rp.overBudget(t)
	t.Logf("FAULT %s goroutines_before=%.0f goroutines_peak=%.0f decisions_over_250ms_at_the_replica=%.0f/%.0f", t.Name(),
		base.goroutines, peak.goroutines, over, total)
	r.requireFailClosed(ts, "slow", cookies)
}

// TestFault7_RedisConnectionResets: one in ten chunks between the replicas and Redis resets the
// connection. Promise: 0 wrongly allowed; valid sessions allowed or 503, never refused.
func TestFault7_RedisConnectionResets(t *testing.T) {
	r := newRig(t, rigOptions{proxy: true})
	cookies, l := r.begin(time.Second)

	l.setPhase("resets")
	r.proxy.resetPPM.Store(100_000)
	time.Sleep(span(5*time.Second, 60*time.Second))
	r.proxy.resetPPM.Store(0)
	// A check that met a reset just before the switch may still be retrying on a broken pooled connection:
	// like scenario 4, the recovery second is its own phase, and "after" is what follows it.
	l.setPhase("first 1s after")
	time.Sleep(time.Second)
	l.setPhase("after")
	time.Sleep(2 * time.Second)
	ts := l.stop(t)
	over, total := r.replicas[0].overBudget(t)
	t.Logf("FAULT %s connections_reset=%d decisions_over_250ms_at_the_replica=%.0f/%.0f", t.Name(), r.proxy.resets.Load(), over, total)
	require.NotZero(t, r.proxy.resets.Load(), "the proxy reset nothing")
	r.requireFailClosed(ts, "resets", cookies)
}

// TestFault14_UnauthenticatedFlood: clients without a session send requests as fast as they can, beside
// the usual load. Promise: the store does not grow at all (starting a login writes nothing); valid
// sessions' p99 is reported against the baseline.
func TestFault14_UnauthenticatedFlood(t *testing.T) {
	r := newRig(t, rigOptions{})
	keys := func() string {
		n, err := redistest.Do(r.redis.Addr(), "DBSIZE")
		require.NoError(t, err)
		return n
	}
	_, l := r.begin(3 * time.Second)
	before := keys()

	l.setPhase("flood")
	flood := r.startLoad(mix(nil, nil), 4, time.Millisecond) // unauthenticated browsers, API clients, forged tickets
	flood.setPhase("flood")
	time.Sleep(span(3*time.Second, 60*time.Second))
	fts := flood.stop(t)
	l.setPhase("after")
	time.Sleep(time.Second)
	ts := l.stop(t)
	after := keys()
	t.Logf("FAULT %s store_keys_before=%s store_keys_after=%s flood_requests=%d", t.Name(), before, after, fts["flood"].requests)
	require.Equal(t, before, after, "unauthenticated traffic wrote to the store")
	require.Zero(t, wronglyAllowed(ts)+wronglyAllowed(fts), "wrongly allowed")
	// A forged ticket, and a valid session, needs a store lookup, so under a flood that saturates the
	// machine's two cores some meet the store timeout and get 503, fail closed: logged above, not asserted
	// (the flood runs on the same cores as authbridge). Nothing may fail outright.
	require.Zero(t, fts["flood"].errs+ts["flood"].errs)
}

// TestFault6_RedisOutOfMemory: Redis refuses writes (CONFIG SET maxmemory with noeviction, below what it
// holds). Promise: a login fails cleanly — an error answer, no session cookie, no redirect loop, nothing
// half-written; existing sessions are still allowed.
func TestFault6_RedisOutOfMemory(t *testing.T) {
	r := newRig(t, rigOptions{})
	cookies, l := r.begin(time.Second)

	l.setPhase("full")
	keysBefore, err := redistest.Do(r.redis.Addr(), "DBSIZE")
	require.NoError(t, err)
	for _, kv := range [][2]string{{"maxmemory-policy", "noeviction"}, {"maxmemory", "1"}} {
		_, err := redistest.Do(r.redis.Addr(), "CONFIG", "SET", kv[0], kv[1])
		require.NoError(t, err)
	}
	start := time.Now()
	_, err = r.loginOnce(r.replicas[0])
	took := time.Since(start)
	require.ErrorContains(t, err, "/oauth2/callback answered 5", "a login while Redis refuses writes")
	keysAfter, err := redistest.Do(r.redis.Addr(), "DBSIZE")
	require.NoError(t, err)
	time.Sleep(span(2*time.Second, 30*time.Second))
	_, err = redistest.Do(r.redis.Addr(), "CONFIG", "SET", "maxmemory", "0")
	require.NoError(t, err)
	l.setPhase("after")
	time.Sleep(time.Second)
	_, err = r.loginOnce(r.replicas[0])
	require.NoError(t, err, "a login once Redis has memory again")
	ts := l.stop(t)
	t.Logf("FAULT %s failed_login_took=%s store_keys_before=%s store_keys_after_failed_login=%s", t.Name(),
		took.Round(time.Millisecond), keysBefore, keysAfter)
	require.Equal(t, keysBefore, keysAfter, "a failed login left something in the store")
	require.Zero(t, wronglyAllowed(ts), "wrongly allowed")
	requireSuccess999(t, ts["full"], "existing sessions while Redis is full")
	require.Zero(t, r.lostSessions(cookies), "sessions lost")
}

// TestFault5_GarbageRecords: 1 % of the session records in Redis are overwritten with garbage (keeping
// their TTL) before the load starts. Promise: those sessions read as logged out (login redirect or 401,
// never a 5xx), counted in authbridge_session_records_unreadable_total; no panic; the others unaffected.
func TestFault5_GarbageRecords(t *testing.T) {
	r := newRig(t, rigOptions{})
	n := int(span(100, 1000))
	var cookies, garbled []string
	keys := map[string]bool{}
	for i := range n {
		ck := r.login(1)[0]
		list, err := redistest.Do(r.redis.Addr(), "KEYS", "authbridge:s:*")
		require.NoError(t, err)
		var fresh []string
		for _, k := range strings.Split(list, "\n") {
			if !keys[k] {
				keys[k] = true
				fresh = append(fresh, k)
			}
		}
		require.Len(t, fresh, 1, "one new session record per login")
		if i%100 == 0 {
			_, err := redistest.Do(r.redis.Addr(), "SET", fresh[0], "\x00garbage\xff"+strconv.Itoa(i), "KEEPTTL")
			require.NoError(t, err)
			garbled = append(garbled, ck)
			continue
		}
		cookies = append(cookies, ck)
	}
	cs := mix(cookies, nil)
	for _, ck := range garbled { // sent as often as a valid session, and expected to be refused
		cs = append(cs, caller{kind: signedOut, cookie: ck}, caller{kind: signedOut, cookie: ck, api: true})
	}
	l := r.startLoad(cs, workers, interval)
	l.setPhase("garbage")
	time.Sleep(span(3*time.Second, 60*time.Second))
	ts := l.stop(t)
	rp := r.replicas[0]
	unreadable, panics := rp.metric(t, "authbridge_session_records_unreadable_total"), rp.metric(t, "authbridge_panics_total")
	t.Logf("FAULT %s sessions=%d garbled=%d unreadable_metric=%.0f panics=%.0f", t.Name(), n, len(garbled), unreadable, panics)
	require.Zero(t, wronglyAllowed(ts), "wrongly allowed")
	require.Zero(t, ts["garbage"].status5xx+ts["garbage"].errs)
	requireSuccess999(t, ts["garbage"], "the other sessions")
	require.Equal(t, len(garbled), r.refused(garbled), "garbled sessions refused with a login")
	require.Positive(t, unreadable, "unreadable records counted")
	require.Zero(t, panics)
}
