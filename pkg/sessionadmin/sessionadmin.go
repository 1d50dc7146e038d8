// Package sessionadmin is the admin API that lists and ends a user's sessions ("sign out everywhere").
package sessionadmin

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/authbridge/authbridge/pkg/session"
)

// Path is where the handler is mounted on the admin listener.
const Path = "/admin/sessions"

// Handler serves GET (list) and DELETE (end) on Path?sub=SUBJECT[&id=ID]. Every call needs
// Authorization: Bearer <token>.
type Handler struct {
	sessions  *session.Sessions
	tokenHash [sha256.Size]byte
	log       *slog.Logger
}

// New returns a Handler that accepts token. token must not be empty.
func New(sessions *session.Sessions, token string, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{sessions: sessions, tokenHash: sha256.Sum256([]byte(token)), log: log}
}

type sessionJSON struct {
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
}

// ServeHTTP lists (GET) or ends (DELETE) the sessions of ?sub; with &id only that one is ended.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="authbridge-admin"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized"})
		return
	}
	sub := r.URL.Query().Get("sub")
	if sub == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "the sub query parameter is required"})
		return
	}
	switch r.Method {
	case http.MethodGet:
		infos, err := h.sessions.List(r.Context(), sub)
		if err != nil {
			h.unavailable(w, err)
			return
		}
		out := make([]sessionJSON, len(infos))
		for i, in := range infos {
			out[i] = sessionJSON{ID: in.ID, Created: in.Created.UTC()}
		}
		writeJSON(w, http.StatusOK, map[string]any{"sub": sub, "sessions": out})
	case http.MethodDelete:
		var n int
		var err error
		if id := r.URL.Query().Get("id"); id != "" {
			var ok bool
			if ok, err = h.sessions.EndOne(r.Context(), sub, id); ok {
				n = 1
			}
		} else {
			n, err = h.sessions.EndSubject(r.Context(), sub)
		}
		if err != nil {
			h.unavailable(w, err)
			return
		}
		h.log.Info("admin ended sessions", "sub", sub, "ended", n)
		writeJSON(w, http.StatusOK, map[string]int{"ended": n})
	default:
		w.Header().Set("Allow", "GET, DELETE")
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method not allowed"})
	}
}

// authorized compares hashes in constant time, so neither the token's length nor content leaks by timing.
func (h *Handler) authorized(r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || got == "" {
		return false
	}
	sum := sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(sum[:], h.tokenHash[:]) == 1
}

func (h *Handler) unavailable(w http.ResponseWriter, err error) {
	h.log.Error("admin sessions: store unavailable", "err", err)
	writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "session store unavailable"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
