package devidp

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// refreshToken is one issued refresh token; all tokens rotated from one code share a family.
type refreshToken struct {
	family  string
	rotated time.Time // when it was first exchanged; zero while it is the family's live token
}

// tokenFamily is the chain of refresh tokens descended from one authorization code.
type tokenFamily struct {
	grant             // nonce cleared: refreshed ID tokens carry none
	tokens  []string  // every refresh token of the family, rotated ones included
	expires time.Time // absolute lifetime
}

// oauthFail is an OAuth error answer; status follows Auth0.
type oauthFail struct {
	code, desc string
}

// status maps an OAuth error code to the HTTP status Auth0 uses for it.
func (f *oauthFail) status() int {
	switch f.code {
	case "invalid_grant", "unauthorized_client", "access_denied":
		return http.StatusForbidden
	case "invalid_client":
		return http.StatusUnauthorized
	case "temporarily_unavailable":
		return http.StatusServiceUnavailable
	case "server_error":
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

// badRefresh is Auth0's answer to any unusable refresh token.
var badRefresh = &oauthFail{"invalid_grant", "Unknown or invalid refresh token."}

// token serves the authorization_code and refresh_token grants.
func (p *IDP) token(w http.ResponseWriter, r *http.Request) {
	log := p.o.Logger.With("endpoint", "token")
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	// Read the body before waiting: only then does the server notice a client that hangs up.
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", "The request body could not be read."})
		return
	}
	p.mu.Lock()
	p.st.stats.TokenCalls[r.PostForm.Get("grant_type")]++
	p.mu.Unlock()
	if !p.waitDelay(r) {
		return // the client gave up
	}
	res, fail := p.tokenGrant(r, log)
	if fail != nil {
		log.Debug("token request refused", "error", fail.code)
		if fail.code == "invalid_client" {
			w.Header().Set("WWW-Authenticate", `Basic realm="devidp"`)
		}
		writeJSON(w, fail.status(), oauthError{fail.code, fail.desc})
		return
	}
	p.mu.Lock()
	rewrite := p.st.rewrite
	p.mu.Unlock()
	if rewrite == nil {
		writeJSON(w, http.StatusOK, res)
		return
	}
	body, _ := json.Marshal(res)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	body = rewrite(w.Header(), append(body, '\n'))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// tokenGrant authenticates the client and runs the requested grant; r's form is parsed.
func (p *IDP) tokenGrant(r *http.Request, log *slog.Logger) (*tokenResponse, *oauthFail) {
	gt := r.PostForm.Get("grant_type")
	p.mu.Lock()
	down := p.st.down
	p.mu.Unlock()
	if down {
		return nil, &oauthFail{"temporarily_unavailable", "The service is temporarily unavailable."}
	}
	c, fail := p.authClient(r)
	if fail != nil {
		return nil, fail
	}
	switch gt {
	case "authorization_code":
		return p.exchangeCode(c, r.PostForm)
	case "refresh_token":
		return p.refreshGrant(c, r.PostForm, log)
	case "":
		return nil, &oauthFail{"invalid_request", "Missing required parameter: grant_type"}
	}
	return nil, &oauthFail{"unsupported_grant_type", "Unsupported grant type: " + gt}
}

// waitDelay holds the request for the configured token delay; false if the client went away first.
func (p *IDP) waitDelay(r *http.Request) bool {
	p.mu.Lock()
	d := p.st.delay
	p.mu.Unlock()
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// authClient accepts client_secret_basic or client_secret_post, not both.
func (p *IDP) authClient(r *http.Request) (Client, *oauthFail) {
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if bid, bsecret, ok := r.BasicAuth(); ok {
		// RFC 6749 §2.3.1: both parts are form-urlencoded before they are joined.
		uid, err1 := url.QueryUnescape(bid)
		usecret, err2 := url.QueryUnescape(bsecret)
		switch {
		case err1 != nil || err2 != nil:
			return Client{}, &oauthFail{"invalid_client", "Client authentication failed."}
		case secret != "" || (id != "" && id != uid):
			return Client{}, &oauthFail{"invalid_request", "Use only one client authentication method."}
		}
		id, secret = uid, usecret
	}
	c, ok := p.clients[id]
	if !ok || subtle.ConstantTimeCompare([]byte(c.Secret), []byte(secret)) != 1 {
		return Client{}, &oauthFail{"invalid_client", "Client authentication failed."}
	}
	return c, nil
}

// exchangeCode redeems a single-use code bound to the client, redirect_uri and PKCE challenge.
func (p *IDP) exchangeCode(c Client, f url.Values) (*tokenResponse, *oauthFail) {
	p.mu.Lock()
	p.sweepLocked()
	ac, ok := p.st.codes[f.Get("code")]
	delete(p.st.codes, f.Get("code")) // single use, whatever happens next
	p.mu.Unlock()
	switch {
	case !ok:
		return nil, &oauthFail{"invalid_grant", "Invalid authorization code"}
	case ac.clientID != c.ID:
		return nil, &oauthFail{"invalid_grant", "Invalid authorization code"}
	case f.Get("redirect_uri") != ac.redirectURI:
		return nil, &oauthFail{"invalid_grant", "The redirect_uri does not match the authorization request."}
	case !pkceOK(f.Get("code_verifier"), ac.challenge):
		return nil, &oauthFail{"invalid_grant", "Failed to verify code verifier"}
	}
	res, err := p.mintTokens(ac.grant)
	if err != nil {
		return nil, &oauthFail{"server_error", "The tokens could not be issued."}
	}
	if hasScope(ac.scope, "offline_access") {
		g := ac.grant
		g.nonce = ""
		res.RefreshToken = p.newFamily(g)
	}
	return res, nil
}

// pkceOK checks an S256 verifier against the stored challenge.
func pkceOK(verifier, challenge string) bool {
	if verifier == "" {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

// newFamily starts a refresh-token family for g and returns its first token.
func (p *IDP) newFamily(g grant) string {
	id, tok := randomID(), randomID()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.st.families[id] = &tokenFamily{grant: g, tokens: []string{tok}, expires: p.now().Add(refreshLifetime)}
	p.st.refresh[tok] = &refreshToken{family: id}
	return tok
}

// refreshGrant rotates a refresh token. Presenting a token rotated longer than RefreshReuseWindow ago
// revokes its whole family (Auth0 reuse detection). A scope or audience parameter is ignored: the
// family keeps what the code granted.
func (p *IDP) refreshGrant(c Client, f url.Values, log *slog.Logger) (*tokenResponse, *oauthFail) {
	next := randomID()
	p.mu.Lock()
	p.sweepLocked()
	rt, ok := p.st.refresh[f.Get("refresh_token")]
	if !ok {
		p.mu.Unlock()
		return nil, badRefresh
	}
	fam := p.st.families[rt.family]
	if fam.clientID != c.ID {
		p.mu.Unlock()
		return nil, badRefresh
	}
	now := p.now()
	if !rt.rotated.IsZero() {
		w := p.o.RefreshReuseWindow
		if w <= 0 || now.Sub(rt.rotated) > w {
			p.dropFamilyLocked(rt.family)
			p.st.stats.RevokedFamilies++
			p.mu.Unlock()
			log.Warn("refresh token reuse detected, family revoked", "client_id", c.ID)
			return nil, badRefresh
		}
	} else {
		rt.rotated = now
	}
	p.st.refresh[next] = &refreshToken{family: rt.family}
	fam.tokens = append(fam.tokens, next)
	g := fam.grant
	p.mu.Unlock()
	res, err := p.mintTokens(g)
	if err != nil {
		return nil, &oauthFail{"server_error", "The tokens could not be issued."}
	}
	res.RefreshToken = next
	return res, nil
}

// dropFamilyLocked deletes a family and all its refresh tokens. p.mu must be held.
func (p *IDP) dropFamilyLocked(id string) {
	if fam, ok := p.st.families[id]; ok {
		for _, t := range fam.tokens {
			delete(p.st.refresh, t)
		}
	}
	delete(p.st.families, id)
}

// revoke implements RFC 7009 for refresh tokens: the token's family ends. It answers 200 for unknown
// tokens and for access tokens, which cannot be revoked (as with Auth0).
func (p *IDP) revoke(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", "The request body could not be read."})
		return
	}
	c, fail := p.authClient(r)
	if fail != nil {
		writeJSON(w, fail.status(), oauthError{fail.code, fail.desc})
		return
	}
	p.mu.Lock()
	if rt, ok := p.st.refresh[r.PostForm.Get("token")]; ok && p.st.families[rt.family].clientID == c.ID {
		p.dropFamilyLocked(rt.family)
	}
	p.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}
