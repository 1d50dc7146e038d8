package demo

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// echo is the demo's upstream: a page and a JSON route that show what reached the upstream. It decodes
// the bearer token to show it, and never verifies it: a real API checks the signature against the
// provider's JWKS.
type echo struct {
	via          string        // which front the gateway asks, for the page
	refreshAhead time.Duration // when authbridge refreshes, for the page's hint
	page         *template.Template
	log          *slog.Logger
	now          func() time.Time
}

func newEcho(via string, refreshAhead time.Duration, log *slog.Logger) http.Handler {
	e := &echo{via: via, refreshAhead: refreshAhead, page: parsePage(), log: log, now: time.Now}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/whoami", e.whoami)
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("GET /", e.index)
	return mux
}

// bearer is a JWT from an Authorization header, split and base64-decoded but not verified.
type bearer struct {
	Raw     string
	Parts   []string       // the three segments as sent
	Header  string         // decoded header, indented JSON
	Payload string         // decoded payload, indented JSON
	Claims  map[string]any // the payload's claims
}

// parseBearer decodes "Bearer <jwt>"; ok is false when there is no bearer JWT.
func parseBearer(authorization string) (*bearer, bool) {
	scheme, raw, _ := strings.Cut(authorization, " ")
	parts := strings.Split(raw, ".")
	if !strings.EqualFold(scheme, "bearer") || len(parts) != 3 {
		return nil, false
	}
	b := &bearer{Raw: raw, Parts: parts}
	var ok bool
	if b.Header, ok = prettySegment(parts[0]); !ok {
		return nil, false
	}
	if b.Payload, ok = prettySegment(parts[1]); !ok {
		return nil, false
	}
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if err := json.Unmarshal(payload, &b.Claims); err != nil {
		return nil, false
	}
	return b, true
}

func prettySegment(seg string) (string, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return "", false
	}
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return "", false
	}
	return out.String(), true
}

func (b *bearer) claim(name string) string {
	s, _ := b.Claims[name].(string)
	return s
}

func (b *bearer) unix(name string) int64 {
	f, _ := b.Claims[name].(float64)
	return int64(f)
}

// groups returns the groups claim, never nil, so that JSON shows [] for a user in no group.
func (b *bearer) groups() []string {
	out := []string{}
	list, _ := b.Claims["groups"].([]any)
	for _, g := range list {
		if s, ok := g.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// headerRow is one request header as the page lists it.
type headerRow struct{ Name, Value string }

// pageData fills the page template.
type pageData struct {
	Via          string
	Token        *bearer // nil when the request carried no bearer JWT
	Subject      string  // the token's sub
	Email        string  // X-Auth-Request-Email
	User         string  // X-Auth-Request-User
	Groups       []string
	Exp, TTL     int64 // token expiry (unix seconds) and lifetime (seconds)
	RefreshAhead int64 // seconds
	Headers      []headerRow
	CookieSeen   bool // the upstream received authbridge's cookie (forward-auth mode)
}

func (e *echo) index(w http.ResponseWriter, r *http.Request) {
	d := pageData{
		Via:          e.via,
		Email:        r.Header.Get("X-Auth-Request-Email"),
		User:         r.Header.Get("X-Auth-Request-User"),
		RefreshAhead: int64(e.refreshAhead / time.Second),
		Headers:      headerRows(r),
		CookieSeen:   hasCookie(r, CookieName),
	}
	if b, ok := parseBearer(r.Header.Get("Authorization")); ok {
		d.Token, d.Subject, d.Groups = b, b.claim("sub"), b.groups()
		d.Exp, d.TTL = b.unix("exp"), b.unix("exp")-b.unix("iat")
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	var buf bytes.Buffer
	if err := e.page.Execute(&buf, d); err != nil {
		e.log.Error("render echo page", "err", err)
		http.Error(w, "cannot render page", http.StatusInternalServerError)
		return
	}
	_, _ = buf.WriteTo(w)
}

// whoamiAnswer is /api/whoami's body; the fields are in the order a person reads them.
type whoamiAnswer struct {
	Sub       string         `json:"sub"`
	Email     string         `json:"email"`
	User      string         `json:"user"`
	Groups    []string       `json:"groups"`
	ExpiresIn int64          `json:"expires_in"`
	Verified  bool           `json:"verified"`
	Via       string         `json:"via"`
	Claims    map[string]any `json:"claims"`
}

// whoami answers what the upstream learned about the caller: the identity headers and the (unverified)
// claims of the bearer token.
func (e *echo) whoami(w http.ResponseWriter, r *http.Request) {
	b, ok := parseBearer(r.Header.Get("Authorization"))
	if !ok {
		writeJSON(w, http.StatusUnauthorized, map[string]any{
			"error":  "no bearer token",
			"detail": "this request did not come through the gateway",
		})
		return
	}
	writeJSON(w, http.StatusOK, whoamiAnswer{
		Sub:       b.claim("sub"),
		Email:     r.Header.Get("X-Auth-Request-Email"),
		User:      r.Header.Get("X-Auth-Request-User"),
		Groups:    b.groups(),
		ExpiresIn: b.unix("exp") - e.now().Unix(),
		Verified:  false, // decoded only: a real API verifies the signature with the provider's JWKS
		Via:       e.via,
		Claims:    b.Claims,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// maxShown is the longest header value the page shows in full; longer ones are cut.
const maxShown = 72

// headerRows lists the request's headers, Host first, long values shortened.
func headerRows(r *http.Request) []headerRow {
	rows := []headerRow{{Name: "Host", Value: r.Host}}
	names := make([]string, 0, len(r.Header))
	for k := range r.Header {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		for _, v := range r.Header[k] {
			if len(v) > maxShown {
				v = v[:maxShown-24] + "… (" + strconv.Itoa(len(v)) + " characters)"
			}
			rows = append(rows, headerRow{Name: k, Value: v})
		}
	}
	return rows
}

func hasCookie(r *http.Request, name string) bool {
	_, err := r.Cookie(name)
	return err == nil
}
