package faults_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/pkg/login"
)

// unknownKid is a JWT for the API audience whose kid no provider published (its signature is noise).
func unknownKid(issuer string) string {
	enc := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	sig := make([]byte, 256)
	_, _ = rand.Read(sig)
	return enc(map[string]string{"alg": "RS256", "typ": "JWT", "kid": rand.Text()}) + "." +
		enc(map[string]any{"iss": issuer, "aud": audience, "sub": "mallory", "exp": time.Now().Add(time.Hour).Unix()}) + "." +
		base64.RawURLEncoding.EncodeToString(sig)
}

// TestFault10_KeyRotationAndUnknownKids: API clients flood both fronts with bearer tokens whose kids no
// one published, while the provider rotates its signing key right after authbridge fetched its JWKS
// and logins go on. Promise: logins work again within a second or two of the rotation (one refetch,
// prompted by the token endpoint's answer); unknown kids from clients make at most one fetch per
// login.KeyRefetchInterval (30 s) per key cache. Before the fix in login.directRefetchInterval, logins
// failed for the whole 30 s after a rotation that came soon after a fetch.
func TestFault10_KeyRotationAndUnknownKids(t *testing.T) {
	r := newRig(t, rigOptions{env: []string{"AUTHBRIDGE_BEARER_AUDIENCES=" + audience}})
	cookies, ended := setup(r, 10, 2) // the logins fetch the JWKS
	cs := mix(cookies, ended)
	for range 200 {
		cs = append(cs, caller{kind: noCookie, api: true, bearer: unknownKid(r.idp.Issuer())})
	}
	l := r.startLoad(cs, workers, interval)
	start, fetches := time.Now(), r.idp.Stats().KeyFetches
	l.setPhase("rotation and flood")
	require.NoError(t, r.idp.RotateKeys())
	var window time.Duration
	failed := 0
	for window == 0 {
		if _, err := r.loginOnce(r.replicas[0]); err == nil {
			window = time.Since(start)
			break
		}
		failed++
		require.Less(t, time.Since(start), 2*login.KeyRefetchInterval, "logins never recovered from the rotation")
		time.Sleep(500 * time.Millisecond)
	}
	rotation := r.idp.Stats().KeyFetches - fetches
	time.Sleep(span(time.Second, 2*time.Minute))
	ts := l.stop(t)
	took := time.Since(start)
	total := r.idp.Stats().KeyFetches - fetches
	// Two key caches can fetch: the login provider's and the bearer verifier's for the issuer.
	bound := 2 * (1 + int(took/login.KeyRefetchInterval))
	t.Logf("FAULT %s login_window_after_rotation=%s failed_logins=%d fetches_until_logins_worked=%d fetches_total=%d in %s (bound %d)",
		t.Name(), window.Round(100*time.Millisecond), failed, rotation, total, took.Round(time.Second), bound)
	require.Zero(t, wronglyAllowed(ts), "wrongly allowed")
	require.LessOrEqual(t, total, bound, "JWKS fetches under the flood")
	require.Less(t, window, login.KeyRefetchInterval/2, "logins failed for as long as the refetch limit after the rotation")
	requireSuccess999(t, ts["rotation and flood"], "sessions")
}
