package devidp

import (
	"net/http"
	"slices"
)

// v2Logout is Auth0's /v2/logout: it ends the browser's SSO session and sends it to returnTo, which
// must be one of client_id's LogoutURLs (or, without client_id, of any client's). A refused returnTo
// gets a 400 page and the session is kept; no returnTo gets a "logged out" page.
func (p *IDP) v2Logout(w http.ResponseWriter, r *http.Request) {
	log := p.o.Logger.With("endpoint", "v2/logout")
	q := r.URL.Query()
	returnTo, clientID := q.Get("returnTo"), q.Get("client_id")
	if clientID != "" {
		if _, ok := p.clients[clientID]; !ok {
			log.Warn("unknown client", "client_id", clientID)
			p.page(w, http.StatusBadRequest, pageData{Title: "Unknown client", Message: "The client_id is not registered."})
			return
		}
	}
	if returnTo != "" && !p.logoutURLAllowed(clientID, returnTo) {
		log.Warn("returnTo not allowed", "client_id", clientID)
		p.page(w, http.StatusBadRequest, pageData{Title: "Logout URL not allowed",
			Message: "The returnTo URL is not in the allowed logout URLs."})
		return
	}
	p.endSession(w, r, "")
	log.Debug("logged out", "client_id", clientID)
	if returnTo == "" {
		p.page(w, http.StatusOK, pageData{Title: "Logged out", Message: "You are logged out."})
		return
	}
	http.Redirect(w, r, returnTo, http.StatusFound)
}

// oidcLogout is OpenID Connect RP-initiated logout. A given id_token_hint must carry this provider's
// signature (it may have expired) and names the client and the session to end. A
// post_logout_redirect_uri needs the hint or client_id, must be one of that client's LogoutURLs, and
// receives state back. Any check that fails gets a 400 page and no redirect.
func (p *IDP) oidcLogout(w http.ResponseWriter, r *http.Request) {
	log := p.o.Logger.With("endpoint", "oidc/logout")
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	refuse := func(title, msg string) {
		log.Warn("logout refused", "reason", title)
		p.page(w, http.StatusBadRequest, pageData{Title: title, Message: msg})
	}
	if err := r.ParseForm(); err != nil {
		refuse("Bad request", "The request could not be read.")
		return
	}
	hint, clientID := r.Form.Get("id_token_hint"), r.Form.Get("client_id")
	uri, state := r.Form.Get("post_logout_redirect_uri"), r.Form.Get("state")
	var sid string
	if hint != "" {
		claims, err := p.verify(hint, false)
		aud, _ := claims["aud"].(string)
		if err != nil || (clientID != "" && clientID != aud) {
			refuse("Invalid id_token_hint", "The id_token_hint was not issued by this provider for this client.")
			return
		}
		clientID = aud
		sid, _ = claims["sid"].(string)
	}
	if _, ok := p.clients[clientID]; clientID != "" && !ok {
		refuse("Unknown client", "The client is not registered.")
		return
	}
	if uri != "" && (clientID == "" || !p.logoutURLAllowed(clientID, uri)) {
		refuse("Logout URL not allowed", "The post_logout_redirect_uri is not an allowed logout URL of the client.")
		return
	}
	p.endSession(w, r, sid)
	log.Debug("logged out", "client_id", clientID)
	if uri == "" {
		p.page(w, http.StatusOK, pageData{Title: "Logged out", Message: "You are logged out."})
		return
	}
	http.Redirect(w, r, withQuery(uri, "state", state), http.StatusFound)
}

// logoutURLAllowed reports whether u is an exact LogoutURLs entry of the client, or of any client
// when clientID is empty (Auth0's tenant-level allowed logout URLs).
func (p *IDP) logoutURLAllowed(clientID, u string) bool {
	if clientID != "" {
		return slices.Contains(p.clients[clientID].LogoutURLs, u)
	}
	for _, c := range p.clients {
		if slices.Contains(c.LogoutURLs, u) {
			return true
		}
	}
	return false
}

// endSession ends the browser's SSO session and the session named sid, clears the SSO cookie, and
// sends a back-channel logout token for each ended login to every client that registered a URI.
func (p *IDP) endSession(w http.ResponseWriter, r *http.Request, sid string) {
	var ended []loginInfo
	p.mu.Lock()
	if s, ok := p.st.sessions[cookieValue(r, ssoCookie)]; ok {
		ended = append(ended, s.login)
		delete(p.st.sessions, cookieValue(r, ssoCookie))
	}
	for id, s := range p.st.sessions {
		if sid != "" && s.login.sid == sid {
			ended = append(ended, s.login)
			delete(p.st.sessions, id)
		}
	}
	p.mu.Unlock()
	c := p.cookie(ssoCookie, "")
	c.MaxAge = -1
	http.SetCookie(w, c)
	for _, li := range ended {
		p.sendBackchannel(li)
	}
}
