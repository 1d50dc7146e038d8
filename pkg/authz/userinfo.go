package authz

import (
	"context"
	"net/http"

	"github.com/authbridge/authbridge/pkg/login"
)

// PathUserInfo is where a page asks who is logged in (GET, on the browser-facing listener only).
const PathUserInfo = "/oauth2/userinfo"

// ClaimPreferredUsername is the ID token claim UserInfo.PreferredUsername comes from. A session keeps it
// when the token has it (next to the claims the policy names), so that a page can show a name.
const ClaimPreferredUsername = "preferred_username"

// UserInfo is who a browser's session belongs to, as /oauth2/userinfo tells the page. It holds no token
// and nothing the ID token did not vouch for.
type UserInfo struct {
	Subject           string   // the ID token's sub
	Email             string   // only an address the provider verified; empty otherwise
	PreferredUsername string   // the ID token's preferred_username, if it was a string
	Groups            []string // from oidc.groups_claim; empty for none
}

// sessionClaims is what a session keeps of c's claims: those the policy names (each a key, absent from
// the token or not; see login.Claims.Values) and, when the token has one, preferred_username.
func (e *Engine) sessionClaims(c *login.Claims) map[string][]string {
	m := c.Values(e.policy.claims)
	if _, named := m[ClaimPreferredUsername]; named {
		return m
	}
	if v := c.Values([]string{ClaimPreferredUsername})[ClaimPreferredUsername]; len(v) > 0 {
		if m == nil {
			m = make(map[string][]string, 1)
		}
		m[ClaimPreferredUsername] = v
	}
	return m
}

// UserInfo answers a page's question "who is logged in?" from r's session cookie, and from nothing
// else: neither a bearer token nor an identity header the client sent counts. It returns the user of a
// live session (refreshed when due, like any request), or a decision when there is none: always a 401
// with a JSON body, never a redirect or a login start, since the caller is a script that would follow
// the redirect invisibly (a page decides itself whether to navigate to the login URL the body names).
// Only GET and HEAD are answered (405 otherwise). An error means the store or the provider did not
// answer: the front answers 503. The policy is not applied: it guards apps, and a user it refuses may
// still learn who they are logged in as.
func (e *Engine) UserInfo(ctx context.Context, r *Request) (*UserInfo, *Decision, error) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		d := deny(http.StatusMethodNotAllowed, `{"error":"method_not_allowed"}`+"\n", "application/json", "userinfo: method not allowed")
		d.Header.Set("Allow", "GET, HEAD")
		return nil, withOAuth2Headers(d), nil
	}
	if len(r.Cookie) > MaxCookieHeader {
		return nil, withOAuth2Headers(cookieTooLarge()), nil
	}
	q := *r
	q.NoRedirect = true // a script's question: never a login start, never a redirect
	// The 401's login_url returns to the site's root: after a login, the page, not this JSON, is
	// where the user wants to be (a page that knows better starts /oauth2/start?rd= itself).
	q.URI = "/"
	s, d, err := e.liveSession(ctx, &q)
	if d != nil || err != nil {
		return nil, withOAuth2Headers(d), err
	}
	u := &UserInfo{Subject: s.Subject, Groups: s.Groups}
	if e.o.Provider.EmailsVerified() {
		u.Email = s.Email
	}
	if vs := s.Claims[ClaimPreferredUsername]; len(vs) == 1 {
		u.PreferredUsername = vs[0]
	}
	return u, nil, nil
}

// withOAuth2Headers sets the headers of every /oauth2/ answer on d (nil stays nil).
func withOAuth2Headers(d *Decision) *Decision {
	if d != nil {
		if d.Header == nil {
			d.Header = http.Header{}
		}
		SetOAuth2Headers(d.Header)
	}
	return d
}
