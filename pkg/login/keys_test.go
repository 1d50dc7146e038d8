package login_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc/oidctest"
	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/testkit"
	"github.com/authbridge/authbridge/pkg/login"
)

// clock is a settable time source.
type clock = testkit.Clock

// TestUnknownKidRefetchLimit: tokens with unknown kids, sent as ID tokens and as logout tokens at
// once, make at most one JWKS fetch per KeyRefetchInterval for the whole Provider (review: 30 forged
// logout tokens made 30 fetches); a real key rotation is picked up from the token endpoint's answer a
// second after the last fetch.
func TestUnknownKidRefetchLimit(t *testing.T) {
	p := newProvider(t)
	clk := testkit.NewClock(now)
	lp := p.login(t, func(c *login.Config) { c.Now = clk.Now })
	forger, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	logoutClaims := `{"iss":"` + p.srv.URL + `","aud":"client","iat":%d,"jti":"j%d","sid":"s",` +
		`"events":{"http://schemas.openid.net/event/backchannel-logout":{}}}`
	idClaims := `{"iss":"` + p.srv.URL + `","sub":"auth0|alice","aud":"client","iat":%d,"exp":%d,"nonce":"n-123"}`

	// forge sends n tokens, each with a kid of its own, half as ID tokens and half as logout tokens,
	// all at once; every one must be refused as invalid, none as a provider failure.
	forge := func(t *testing.T, n int) {
		iat := clk.Now().Unix()
		p.answer = func(r *http.Request) (int, any) {
			_ = r.ParseForm()
			kid := "forged-id-" + r.PostForm.Get("code")
			return 200, tokenResponse(signRS(t, forger, `{"alg":"RS256","kid":"`+kid+`"}`, fmt.Sprintf(idClaims, iat, iat+600), false))
		}
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				if i%2 == 0 {
					_, errs[i] = lp.Exchange(context.Background(), fmt.Sprint(i), "verifier", "n-123")
					return
				}
				tok := signRS(t, forger, fmt.Sprintf(`{"alg":"RS256","kid":"forged-%d"}`, i), fmt.Sprintf(logoutClaims, iat, i), false)
				_, errs[i] = lp.VerifyLogoutToken(context.Background(), tok)
			})
		}
		wg.Wait()
		for i, err := range errs {
			if i%2 == 0 {
				require.ErrorIs(t, err, login.ErrInvalidToken)
			} else {
				require.ErrorIs(t, err, login.ErrInvalidLogoutToken)
			}
		}
	}

	p.answer = func(*http.Request) (int, any) { return 200, tokenResponse(p.idToken(p.key, nil)) }
	_, err = lp.Exchange(context.Background(), "code", "verifier", "n-123")
	require.NoError(t, err)
	require.EqualValues(t, 1, p.keyFetches.Load(), "the first token fetches the key set")

	forge(t, 30)
	require.EqualValues(t, 1, p.keyFetches.Load(), "30 unknown kids right after a fetch: no fetch")

	clk.Advance(login.KeyRefetchInterval)
	forge(t, 30)
	require.EqualValues(t, 2, p.keyFetches.Load(), "30 unknown kids an interval later: one fetch for all")
	forge(t, 30)
	require.EqualValues(t, 2, p.keyFetches.Load())

	// The provider rotates to a new key. A token with its kid straight from the token endpoint makes the
	// set be fetched again once a second has passed since the last fetch, not a whole interval: only the
	// provider puts a kid there. Client-sent tokens (logout tokens) keep the interval.
	rotated, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	p.op.PublicKeys = append(p.op.PublicKeys, oidctest.PublicKey{PublicKey: rotated.Public(), KeyID: "k2", Algorithm: "RS256"})
	iat := clk.Now().Unix()
	withK2 := signRS(t, rotated, `{"alg":"RS256","kid":"k2"}`, fmt.Sprintf(idClaims, iat, iat+3600), false)
	p.answer = func(*http.Request) (int, any) { return 200, tokenResponse(withK2) }
	_, err = lp.Exchange(context.Background(), "code", "verifier", "n-123")
	require.ErrorIs(t, err, login.ErrInvalidToken, "the same instant as the last fetch")
	require.EqualValues(t, 2, p.keyFetches.Load())
	clk.Advance(time.Second)
	_, err = lp.Exchange(context.Background(), "code", "verifier", "n-123")
	require.NoError(t, err)
	require.EqualValues(t, 3, p.keyFetches.Load(), "a second later: one fetch finds the new key")
	_, err = lp.VerifyLogoutToken(context.Background(), signRS(t, forger, `{"alg":"RS256","kid":"forged-late"}`,
		fmt.Sprintf(logoutClaims, clk.Now().Unix(), 99), false))
	require.ErrorIs(t, err, login.ErrInvalidLogoutToken)
	clk.Advance(time.Second)
	_, err = lp.VerifyLogoutToken(context.Background(), signRS(t, forger, `{"alg":"RS256","kid":"forged-later"}`,
		fmt.Sprintf(logoutClaims, clk.Now().Unix(), 98), false))
	require.ErrorIs(t, err, login.ErrInvalidLogoutToken)
	require.EqualValues(t, 3, p.keyFetches.Load(), "unknown kids in logout tokens: still one fetch per interval")
}

// TestKeysUnreachableUntilNextFetch: when the key set could not be fetched, a token is neither accepted
// nor refused (not ErrInvalidToken) until the next fetch is due (a second later for an ID token from the
// token endpoint), even once the provider is back: its kid is unknown for want of the set. The next due
// fetch finds the key.
func TestKeysUnreachableUntilNextFetch(t *testing.T) {
	p := newProvider(t)
	clk := testkit.NewClock(now)
	lp := p.login(t, func(c *login.Config) { c.Now = clk.Now })
	p.hooks["/keys"] = func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }
	p.answer = func(*http.Request) (int, any) { return 200, tokenResponse(p.idToken(p.key, nil)) }

	_, err := lp.Exchange(context.Background(), "code", "verifier", "n-123")
	require.ErrorIs(t, err, login.ErrKeysUnreachable)
	require.NotErrorIs(t, err, login.ErrInvalidToken)
	delete(p.hooks, "/keys")
	clk.Advance(time.Second - time.Millisecond)
	_, err = lp.Exchange(context.Background(), "code", "verifier", "n-123")
	require.ErrorIs(t, err, login.ErrKeysUnreachable, "the provider is back, but no fetch is due yet")
	require.NotErrorIs(t, err, login.ErrInvalidToken)
	require.EqualValues(t, 1, p.keyFetches.Load())
	clk.Advance(time.Millisecond)
	_, err = lp.Exchange(context.Background(), "code", "verifier", "n-123")
	require.NoError(t, err)
	require.EqualValues(t, 2, p.keyFetches.Load())
}
