package devidp

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"slices"
	"time"
)

const (
	ssoCookie  = "devidp_session" // remembers the login for silent SSO, like Auth0's session cookie
	csrfCookie = "devidp_csrf"    // binds a rendered login form to the browser that asked for it
)

// authRequest is an /authorize request whose client and redirect_uri are known to be registered.
type authRequest struct {
	client      Client
	redirectURI string
	state       string
	nonce       string
	scope       string
	audience    string
	challenge   string // PKCE S256 code_challenge
	prompt      string
}

// pendingLogin is a rendered login form waiting for its POST.
type pendingLogin struct {
	req     authRequest
	csrf    string // the browser's CSRF cookie when the form was rendered
	expires time.Time
}

// authCode is an issued, not yet redeemed authorization code.
type authCode struct {
	grant
	redirectURI string
	challenge   string
	expires     time.Time
}

// ssoSession is a browser's login, named by its SSO cookie.
type ssoSession struct {
	login   loginInfo
	expires time.Time
}

// authorize validates an authorization request and answers with a code, the login form, or an error.
// An unknown client or unregistered redirect_uri gets a 400 page and never a redirect.
func (p *IDP) authorize(w http.ResponseWriter, r *http.Request) {
	log := p.o.Logger.With("endpoint", "authorize")
	q := r.URL.Query()
	c, ok := p.clients[q.Get("client_id")]
	if !ok {
		log.Warn("unknown client", "client_id", q.Get("client_id"))
		p.page(w, http.StatusBadRequest, pageData{Title: "Unknown client", Message: "The client_id is not registered."})
		return
	}
	if !slices.Contains(c.RedirectURIs, q.Get("redirect_uri")) {
		log.Warn("unregistered redirect_uri", "client_id", c.ID)
		p.page(w, http.StatusBadRequest, pageData{Title: "Callback URL mismatch",
			Message: "The redirect_uri is not in the client's allowed callback URLs."})
		return
	}
	req := authRequest{
		client: c, redirectURI: q.Get("redirect_uri"), state: q.Get("state"), nonce: q.Get("nonce"),
		scope: q.Get("scope"), audience: q.Get("audience"), challenge: q.Get("code_challenge"), prompt: q.Get("prompt"),
	}
	if code, desc := p.checkAuthorize(q); code != "" {
		log.Debug("authorize refused", "error", code, "client_id", c.ID)
		p.redirectError(w, r, req, code, desc)
		return
	}
	sess := p.ssoSession(r)
	switch {
	case sess != nil && req.prompt != "login":
		log.Debug("silent sso", "client_id", c.ID)
		p.issueCode(w, r, req, sess.login)
	case req.prompt == "none":
		p.redirectError(w, r, req, "login_required", "Login required")
	case p.o.AutoLogin != "":
		p.issueCode(w, r, req, p.startSession(w, r, p.users[p.o.AutoLogin]))
	default:
		p.showForm(w, r, req)
	}
}

// checkAuthorize returns an OAuth error code and description for a request that must be refused.
func (p *IDP) checkAuthorize(q url.Values) (string, string) {
	switch {
	case q.Get("response_type") != "code":
		return "unsupported_response_type", "Unsupported response type: " + q.Get("response_type")
	case q.Get("code_challenge_method") != "S256":
		return "invalid_request", "code_challenge_method must be S256"
	case len(q.Get("code_challenge")) != 43: // base64url of a SHA-256 digest, RFC 7636 §4.2
		return "invalid_request", "code_challenge must be a base64url SHA-256 digest"
	case q.Get("audience") != "" && q.Get("audience") != p.o.Audience:
		return "access_denied", "Service not found: " + q.Get("audience")
	case !slices.Contains([]string{"", "login", "none", "consent"}, q.Get("prompt")):
		return "invalid_request", "Unsupported prompt: " + q.Get("prompt")
	case q.Get("response_mode") != "" && q.Get("response_mode") != "query":
		return "invalid_request", "Unsupported response_mode: " + q.Get("response_mode")
	}
	return "", ""
}

// login checks the submitted credentials of a rendered form. A wrong password shows the form again
// with an error (200); success starts an SSO session and redirects with a code.
func (p *IDP) login(w http.ResponseWriter, r *http.Request) {
	log := p.o.Logger.With("endpoint", "login")
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		p.page(w, http.StatusBadRequest, pageData{Title: "Bad request", Message: "The form could not be read."})
		return
	}
	formToken := r.PostForm.Get("form_token")
	csrf := cookieValue(r, csrfCookie)
	p.mu.Lock()
	p.sweepLocked()
	pl, ok := p.st.forms[formToken]
	if ok && (csrf == "" || subtle.ConstantTimeCompare([]byte(csrf), []byte(pl.csrf)) != 1) {
		ok = false
	}
	p.mu.Unlock()
	if !ok {
		log.Warn("unknown, expired or cross-browser login form")
		p.page(w, http.StatusBadRequest, pageData{Title: "Login expired",
			Message: "This login form has expired or was opened in another browser. Start again from the application."})
		return
	}
	name := r.PostForm.Get("username")
	usr, found := p.users[name]
	if !found || subtle.ConstantTimeCompare([]byte(usr.Password), []byte(r.PostForm.Get("password"))) != 1 {
		log.Debug("wrong credentials")
		p.renderForm(w, formToken, pl.req, name, "Wrong username or password.", http.StatusOK)
		return
	}
	p.mu.Lock()
	_, still := p.st.forms[formToken]
	delete(p.st.forms, formToken)
	p.mu.Unlock()
	if !still { // a concurrent POST of the same form won
		p.page(w, http.StatusBadRequest, pageData{Title: "Login expired", Message: "This login form was already used."})
		return
	}
	log.Debug("login", "client_id", pl.req.client.ID)
	p.issueCode(w, r, pl.req, p.startSession(w, r, usr))
}

// showForm stores req under a fresh form token bound to the browser's CSRF cookie and renders the form.
func (p *IDP) showForm(w http.ResponseWriter, r *http.Request, req authRequest) {
	csrf := cookieValue(r, csrfCookie)
	if len(csrf) < 32 {
		csrf = randomID()
		http.SetCookie(w, p.cookie(csrfCookie, csrf))
	}
	token := randomID()
	p.mu.Lock()
	p.sweepLocked()
	p.st.forms[token] = &pendingLogin{req: req, csrf: csrf, expires: p.now().Add(formTTL)}
	p.mu.Unlock()
	p.renderForm(w, token, req, "", "", http.StatusOK)
}

// renderForm writes the login page for the pending login named by token.
func (p *IDP) renderForm(w http.ResponseWriter, token string, req authRequest, username, msg string, status int) {
	d := pageData{Title: "Log in", Form: true, Action: p.prefix + "login", FormToken: token,
		ClientID: req.client.ID, Username: username, Error: msg}
	if p.o.ShowPasswords {
		d.Users = p.o.Users
	}
	p.page(w, status, d)
}

// startSession records a fresh login of usr, sets the SSO cookie, and ends the browser's previous session.
func (p *IDP) startSession(w http.ResponseWriter, r *http.Request, usr User) loginInfo {
	id := randomID()
	li := loginInfo{subject: usr.Subject, sid: randomID()[:32], authTime: p.now()}
	p.mu.Lock()
	delete(p.st.sessions, cookieValue(r, ssoCookie))
	p.st.sessions[id] = &ssoSession{login: li, expires: li.authTime.Add(ssoTTL)}
	p.st.stats.Logins++
	p.mu.Unlock()
	http.SetCookie(w, p.cookie(ssoCookie, id))
	return li
}

// ssoSession returns the browser's live SSO session, or nil.
func (p *IDP) ssoSession(r *http.Request) *ssoSession {
	id := cookieValue(r, ssoCookie)
	if id == "" {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sweepLocked()
	return p.st.sessions[id]
}

// issueCode stores a single-use code for the login and redirects the browser to the client with it.
func (p *IDP) issueCode(w http.ResponseWriter, r *http.Request, req authRequest, li loginInfo) {
	code := randomID()
	p.mu.Lock()
	p.st.codes[code] = &authCode{
		grant:       grant{clientID: req.client.ID, scope: req.scope, audience: req.audience, nonce: req.nonce, login: li},
		redirectURI: req.redirectURI,
		challenge:   req.challenge,
		expires:     p.now().Add(codeTTL),
	}
	p.mu.Unlock()
	http.Redirect(w, r, withQuery(req.redirectURI, "code", code, "state", req.state, "iss", p.issParam()), http.StatusFound)
}

// issParam is the iss parameter of authorization responses (RFC 9207): the issuer when
// Options.IssParameter is set, else empty (not sent).
func (p *IDP) issParam() string {
	if p.o.IssParameter {
		return p.o.Issuer
	}
	return ""
}

// redirectError sends the browser back to the client with an OAuth error, echoing state.
func (p *IDP) redirectError(w http.ResponseWriter, r *http.Request, req authRequest, code, desc string) {
	http.Redirect(w, r, withQuery(req.redirectURI, "error", code, "error_description", desc, "state", req.state,
		"iss", p.issParam()), http.StatusFound)
}

// withQuery adds the non-empty key/value pairs to the query of base, a URL checked by New.
func withQuery(base string, kv ...string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	q := u.Query()
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// cookie builds one of the provider's cookies, scoped to the issuer's path.
func (p *IDP) cookie(name, value string) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: p.prefix, HttpOnly: true, Secure: p.secure,
		SameSite: http.SameSiteLaxMode}
}

// cookieValue returns the named cookie's value, or "".
func cookieValue(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}

// sweepLocked drops expired forms, codes, SSO sessions and refresh-token families. p.mu must be held.
func (p *IDP) sweepLocked() {
	now := p.now()
	for k, v := range p.st.forms {
		if !now.Before(v.expires) {
			delete(p.st.forms, k)
		}
	}
	for k, v := range p.st.codes {
		if !now.Before(v.expires) {
			delete(p.st.codes, k)
		}
	}
	for k, v := range p.st.sessions {
		if !now.Before(v.expires) {
			delete(p.st.sessions, k)
		}
	}
	for k, v := range p.st.families {
		if !now.Before(v.expires) {
			p.dropFamilyLocked(k)
		}
	}
}
