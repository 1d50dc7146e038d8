package e2e_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/browsertest"
)

// backchannelEvent is the events member that marks a logout token (Back-Channel Logout 1.0, 2.4).
const backchannelEvent = "http://schemas.openid.net/event/backchannel-logout"

// TestBackchannelLogout proves OIDC Back-Channel Logout 1.0 with Hydra as the provider: a login ended at
// Hydra, by the browser at Hydra's logout endpoint or through Hydra's admin API, ends the authbridge
// session that came from it through Hydra's own logout token; tokens Hydra would not send for that session
// are refused and leave every other session alone.
//
// It runs before the parallel tests, not among them: Hydra's SQLite gives way under their concurrent
// logins, and this test's three logins and two logouts would add to that load.
func TestBackchannelLogout(t *testing.T) {
	s := sharedStack(t)
	up := startUpstream(t)
	port, err := freePort()
	require.NoError(t, err)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	ab := startAuthbridge(t, s, base)
	startCaddy(t, port, ab.forwardAuth, up.addr)
	g := gatewayUnderTest{base: base, up: up, ab: ab}
	endpoint := "http://" + ab.http + "/oauth2/backchannel_logout"
	relay := startLogoutRelay(t, endpoint)
	require.NoError(t, s.hydra.setBackchannelURI(ab.clientID, relay.url))

	// Each user has a browser of their own, so a login session of their own at Hydra.
	carol, dave, erin := signIn(t, s, g, "carol"), signIn(t, s, g, "dave"), signIn(t, s, g, "erin")
	require.True(t, carol.sid != dave.sid && dave.sid != erin.sid && carol.sid != erin.sid, "three login sessions at Hydra")

	var carolToken string
	t.Run("logout at Hydra's endpoint", func(t *testing.T) {
		// OP-initiated: no id_token_hint; Hydra ends the login session of its cookie in this browser.
		browsertest.Do(t, carol.tab, chromedp.Navigate(s.hydra.issuer+"/oauth2/sessions/logout"))
		got := relay.await(t, carol.sid)
		carolToken = got.token
		require.Equal(t, "application/x-www-form-urlencoded", got.contentType)
		c := tokenClaims(t, got.token)
		t.Logf("Hydra's logout token has the claims %v", claimNames(c))
		require.Equal(t, http.StatusOK, got.status, "authbridge accepts Hydra's logout token: %s", got.body)
		require.Equal(t, s.hydra.issuer, c["iss"])
		require.Equal(t, []any{ab.clientID}, c["aud"])
		require.Equal(t, carol.sid, c["sid"])
		require.NotEmpty(t, c["jti"])
		require.InDelta(t, float64(time.Now().Unix()), c["iat"], 60)
		require.Contains(t, c["events"], backchannelEvent)
		requireEnded(t, s, g, carol)
	})

	t.Run("logout through Hydra's admin API", func(t *testing.T) {
		// By sid Hydra sends back-channel logout; by subject it would end the logins and send none.
		require.NoError(t, s.hydra.revokeLoginSession(erin.sid))
		got := relay.await(t, erin.sid)
		require.Equal(t, http.StatusOK, got.status, "authbridge accepts Hydra's logout token: %s", got.body)
		requireEnded(t, s, g, erin)
	})

	t.Run("tokens Hydra would not send are refused", func(t *testing.T) {
		foreign, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		hydraKey := s.hydra.idKey
		require.NotNil(t, hydraKey.Key, "Hydra handed out its ID-token signing key")
		// The same kid as Hydra's key: the signature is what fails, not the key lookup.
		forgedKey := jose.JSONWebKey{Key: foreign, KeyID: hydraKey.KeyID, Algorithm: string(jose.ES256)}
		// Every token names dave's session: accepted, it would end it.
		forDave := func(change func(map[string]any)) map[string]any {
			now := time.Now()
			c := map[string]any{
				"iss": s.hydra.issuer, "aud": []string{ab.clientID}, "sub": dave.name, "sid": dave.sid,
				"iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(), "jti": randomHex(t),
				"events": map[string]any{backchannelEvent: map[string]any{}},
			}
			change(c)
			return c
		}
		// Each case must be refused for its own reason, as authbridge logs it, not for another.
		for _, tc := range []struct {
			name   string
			token  string
			reason string
		}{
			{"signed with a key Hydra does not have",
				signJWT(t, forgedKey, forDave(func(map[string]any) {})), "failed to verify signature"},
			{"for another client",
				signJWT(t, hydraKey, forDave(func(c map[string]any) { c["aud"] = []string{"another-client"} })), "expected audience"},
			{"from another issuer",
				signJWT(t, hydraKey, forDave(func(c map[string]any) { c["iss"] = "http://127.0.0.1:1" })), "issued by a different provider"},
			{"without the back-channel event",
				signJWT(t, hydraKey, forDave(func(c map[string]any) { delete(c, "events") })), "no back-channel logout event"},
			{"an ID token (with a nonce)",
				signJWT(t, hydraKey, forDave(func(c map[string]any) { c["nonce"] = "n-0S6_WzA2Mj" })), "carries a nonce"},
			{"expired",
				signJWT(t, hydraKey, forDave(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() })), "expired"},
			{"Hydra's own token, replayed", carolToken, `msg="back-channel logout token replayed"`},
			{"no token", "", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if tc.name == "Hydra's own token, replayed" {
					require.NotEmpty(t, tc.token, "the token Hydra sent for carol was captured")
				}
				before := strings.Count(ab.proc.log(), tc.reason)
				status, body := postLogoutToken(t, endpoint, tc.token)
				require.Equal(t, http.StatusBadRequest, status, body)
				require.Contains(t, body, `"error":"invalid_request"`)
				if tc.reason != "" {
					// Logged before authbridge answers.
					require.Greater(t, strings.Count(ab.proc.log(), tc.reason), before, "refused because: %s", tc.reason)
				}
			})
		}
		resp, err := noRedirects.Get(endpoint)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, "GET")
	})

	t.Run("other sessions stay", func(t *testing.T) {
		status, _, err := sessionAnswer(g, dave.cookie, "application/json")
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status)
		browsertest.Do(t, dave.tab, chromedp.Navigate(base+"/still-here"), chromedp.WaitVisible(chromedp.ID("headers")))
		require.Equal(t, "/still-here", browsertest.Val(t, dave.tab, chromedp.TextContent(chromedp.ID("uri"))))
	})

	log := ab.proc.log()
	require.Len(t, regexp.MustCompile(`msg="back-channel logout" .*ended=1`).FindAllString(log, -1), 2,
		"authbridge logged both logouts, one session each")
	// Checked without printing: a failure must not put the secrets into the test output either.
	for _, u := range []*browserUser{carol, dave, erin} {
		require.False(t, strings.Contains(log, u.cookie), "authbridge never logs a cookie")
	}
	require.False(t, carolToken != "" && strings.Contains(log, carolToken), "authbridge never logs a logout token")
}

// browserUser is one user logged in through the gateway in a browser of their own.
type browserUser struct {
	name   string
	tab    context.Context
	cookie string // authbridge's session cookie
	sid    string // Hydra's login session: the sid of the user's ID and logout tokens
}

// signIn logs name in through the gateway with a remembered login at Hydra and checks the session works.
func signIn(t *testing.T, s *stack, g gatewayUnderTest, name string) *browserUser {
	t.Helper()
	u := &browserUser{name: name, tab: newTab(t, s.browser)}
	logIn(t, u.tab, s, g.base, "/"+name, name)
	c := sessionCookie(t, u.tab, g.base)
	require.NotNil(t, c, "the browser holds the session cookie")
	u.cookie = c.Value
	sid, err := s.hydra.loginSessionID(name)
	require.NoError(t, err)
	u.sid = sid
	status, _, err := sessionAnswer(g, u.cookie, "application/json")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, "the session works")
	return u
}

// requireEnded checks that u's session is gone: a script with the old cookie gets 401, a navigation with
// it goes to Hydra, and the browser, whose login at Hydra ended too, lands on the login form.
func requireEnded(t *testing.T, s *stack, g gatewayUnderTest, u *browserUser) {
	t.Helper()
	n := g.up.count()
	// authbridge's in-process session cache lets go of the session when the store's announcement of its
	// end comes back, a moment after the logout request was answered.
	require.Eventually(t, func() bool {
		status, _, err := sessionAnswer(g, u.cookie, "application/json")
		return err == nil && status == http.StatusUnauthorized
	}, 5*time.Second, 20*time.Millisecond, "a script with the old cookie gets 401")
	status, loc, err := sessionAnswer(g, u.cookie, "text/html")
	require.NoError(t, err)
	require.Equal(t, http.StatusFound, status, "a navigation with the old cookie")
	require.True(t, strings.HasPrefix(loc, s.hydra.issuer+"/oauth2/auth?"), "sent to log in, at %s", loc)
	require.Equal(t, n, g.up.count(), "the upstream is not asked")
	browsertest.Do(t, u.tab, chromedp.Navigate(g.base+"/"+u.name+"/again"), chromedp.WaitVisible(chromedp.ID("username")))
	loc = browsertest.Val(t, u.tab, chromedp.Location())
	require.True(t, strings.HasPrefix(loc, s.hydra.uiURL+"/login?"), "the login form, at %s", loc)
}

// sessionAnswer asks the gateway for a page with the session cookie and returns the status and Location.
// It fails no test itself, so require.Eventually may poll it.
func sessionAnswer(g gatewayUnderTest, cookie, accept string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, g.base+"/session-check", nil)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Accept", accept)
	req.AddCookie(&http.Cookie{Name: cookieName, Value: cookie})
	resp, err := noRedirects.Do(req)
	if err != nil {
		return 0, "", err
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location"), nil
}

// postLogoutToken POSTs a back-channel logout request as a provider would ("" sends no token).
func postLogoutToken(t *testing.T, endpoint, token string) (int, string) {
	t.Helper()
	form := url.Values{}
	if token != "" {
		form.Set("logout_token", token)
	}
	resp, err := noRedirects.PostForm(endpoint, form)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// signJWT signs claims as a compact JWS with key, its kid in the header.
func signJWT(t *testing.T, key jose.JSONWebKey, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(key.Algorithm), Key: key},
		(&jose.SignerOptions{}).WithType("JWT"))
	require.NoError(t, err)
	payload, err := json.Marshal(claims)
	require.NoError(t, err)
	jws, err := signer.Sign(payload)
	require.NoError(t, err)
	raw, err := jws.CompactSerialize()
	require.NoError(t, err)
	return raw
}

// tokenClaims decodes a JWT's claims without verifying it.
func tokenClaims(t *testing.T, raw string) map[string]any {
	t.Helper()
	c, err := unverifiedClaims(raw)
	require.NoError(t, err)
	return c
}

func claimNames(c map[string]any) []string {
	names := make([]string, 0, len(c))
	for k := range c {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// logoutRelay is the back-channel logout URI the test registers at Hydra: it passes each POST on to
// authbridge's endpoint byte for byte and keeps the token and authbridge's answer, so the test can read
// what Hydra sent, see what authbridge answered Hydra, and replay the token.
type logoutRelay struct {
	url string
	mu  sync.Mutex
	got []relayed
}

// relayed is one logout POST from Hydra and authbridge's answer to it.
type relayed struct {
	token       string
	contentType string
	status      int
	body        string // authbridge's answer: empty or an OAuth error, never a secret
}

// startLogoutRelay runs a relay to endpoint until the test ends.
func startLogoutRelay(t *testing.T, endpoint string) *logoutRelay {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	r := &logoutRelay{url: "http://" + l.Addr().String() + "/backchannel_logout"}
	client := &http.Client{Timeout: hydraCallTimeout}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		in, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
		if err != nil {
			http.Error(w, "relay: read request", http.StatusBadRequest)
			return
		}
		out, err := http.NewRequest(req.Method, endpoint, bytes.NewReader(in))
		if err != nil {
			http.Error(w, "relay: build request", http.StatusInternalServerError)
			return
		}
		out.Header.Set("Content-Type", req.Header.Get("Content-Type"))
		resp, err := client.Do(out)
		if err != nil {
			http.Error(w, "relay: authbridge unreachable", http.StatusBadGateway)
			return
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		form, _ := url.ParseQuery(string(in))
		r.mu.Lock()
		r.got = append(r.got, relayed{token: form.Get("logout_token"), contentType: req.Header.Get("Content-Type"),
			status: resp.StatusCode, body: string(answer)})
		r.mu.Unlock()
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(answer)
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return r
}

// await waits until Hydra has posted a logout token for sid and authbridge has answered it.
func (r *logoutRelay) await(t *testing.T, sid string) relayed {
	t.Helper()
	var got relayed
	require.Eventually(t, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, p := range r.got {
			if c, err := unverifiedClaims(p.token); err == nil && c["sid"] == sid {
				got = p
				return true
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond, "Hydra posts a logout token for the session")
	return got
}

func unverifiedClaims(raw string) (map[string]any, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a compact JWS")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, err
	}
	var c map[string]any
	return c, json.Unmarshal(payload, &c)
}

// setBackchannelURI registers uri as the client's back-channel logout URI, with the sid required.
func (h *hydra) setBackchannelURI(clientID, uri string) error {
	return h.call(http.MethodPatch, "/admin/clients/"+url.PathEscape(clientID), []map[string]any{
		{"op": "add", "path": "/backchannel_logout_uri", "value": uri},
		{"op": "add", "path": "/backchannel_logout_session_required", "value": true},
	}, nil)
}

// loginSessionID returns the id of subject's one remembered login session at Hydra, found through the
// consent Hydra remembers for it.
func (h *hydra) loginSessionID(subject string) (string, error) {
	var sessions []struct {
		ConsentRequest struct {
			LoginSessionID string `json:"login_session_id"`
		} `json:"consent_request"`
	}
	if err := h.call(http.MethodGet, "/admin/oauth2/auth/sessions/consent?subject="+url.QueryEscape(subject), nil, &sessions); err != nil {
		return "", fmt.Errorf("list consent sessions: %w", err)
	}
	var ids []string
	for _, s := range sessions {
		if id := s.ConsentRequest.LoginSessionID; id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	if len(ids) != 1 {
		return "", fmt.Errorf("list consent sessions: %d login sessions of %s, want 1", len(ids), subject)
	}
	return ids[0], nil
}

// revokeLoginSession ends one login session through the admin API, as an admin or account page would.
func (h *hydra) revokeLoginSession(sid string) error {
	return h.call(http.MethodDelete, "/admin/oauth2/auth/sessions/login?sid="+url.QueryEscape(sid), nil, nil)
}
