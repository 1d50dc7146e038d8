package forwardauth

import (
	"encoding/json"
	"net/http"

	"github.com/authbridge/authbridge/pkg/authz"
)

// userInfoBody is the JSON of /oauth2/userinfo. The keys are oauth2-proxy's (user, email, groups,
// preferredUsername), so that a page written against oauth2-proxy's endpoint reads this one unchanged;
// user is the subject. There is no field a token could end up in.
type userInfoBody struct {
	User              string   `json:"user"`
	Email             string   `json:"email,omitempty"`
	Groups            []string `json:"groups,omitempty"`
	PreferredUsername string   `json:"preferredUsername,omitempty"`
}

// userInfo serves GET /oauth2/userinfo: the logged-in user as JSON, or the engine's 401 (JSON) without a
// usable session. The request is read with the same strict rules as the other /oauth2/ paths, and the
// answer carries no Access-Control-Allow-* header: only the site's own pages can read it.
func (h *Handler) userInfo(w http.ResponseWriter, r *http.Request) {
	req, err := h.direct(r)
	if err != nil {
		h.refuse(w, r, authz.FrontHTTP, err)
		return
	}
	u, d, err := h.engine.UserInfo(r.Context(), req)
	switch {
	case err != nil:
		h.log.Error("userinfo: cannot decide", "err", err)
		http.Error(w, "authentication is temporarily unavailable", http.StatusServiceUnavailable)
		return
	case d != nil:
		render(w, d, req, h.engine)
		return
	}
	b, err := json.Marshal(userInfoBody{User: u.Subject, Email: u.Email, Groups: u.Groups, PreferredUsername: u.PreferredUsername})
	if err != nil { // strings and a string slice always encode
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(append(b, '\n'))
	}
}
