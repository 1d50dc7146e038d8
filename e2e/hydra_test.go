package e2e_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// hydra is a running Ory Hydra (on a throwaway SQLite database) and the login, consent and logout pages
// it sends the browser to, which accept through Hydra's admin API as a real login app would.
type hydra struct {
	issuer string // public URL; Hydra's issuer exactly (no trailing slash)
	admin  string // admin API URL
	uiURL  string // the login/consent/logout app
	proc   *process
	ui     *http.Server
	client *http.Client
	// idKey is the private key Hydra signs ID and logout tokens with (its admin API hands it out), for
	// tests that need tokens Hydra's JWKS vouches for but Hydra would never send.
	idKey jose.JSONWebKey

	mu      sync.Mutex
	logouts map[string]int // logouts accepted, by client id
}

// Hydra's accept calls and the test's own calls are quick; a stuck one fails the test.
const hydraCallTimeout = 10 * time.Second

// startHydra migrates a fresh database, runs `hydra serve all --dev` on free loopback ports with its login
// app, and gives it ES256 signing keys (Hydra would otherwise spend seconds generating RSA-4096 keys on
// first use).
func startHydra(dir, bin string) (*hydra, error) {
	uiLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for login app: %w", err)
	}
	h := &hydra{uiURL: "http://" + uiLn.Addr().String(), client: &http.Client{Timeout: hydraCallTimeout},
		logouts: map[string]int{}}
	h.ui = &http.Server{Handler: h.uiHandler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = h.ui.Serve(uiLn) }()
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	// A database file, not DSN=memory: Hydra's in-memory SQLite shares one cache between its connections
	// and fails a write that meets another at once ("unable to serialize access"), which the parallel
	// logins hit now and then. In WAL mode with every transaction taking the write lock up front, writers
	// wait their turn; without fsync (a throwaway database) that costs nothing.
	dsn := "DSN=sqlite://" + filepath.Join(dir, "hydra.sqlite") +
		"?_fk=true&_journal_mode=WAL&_txlock=immediate&_busy_timeout=10000&_synchronous=OFF"
	migrate := exec.Command(bin, "migrate", "sql", "up", "--read-from-env", "--yes")
	migrate.Dir, migrate.Env = dir, append(baseEnv(dir), dsn)
	if out, err := migrate.CombinedOutput(); err != nil {
		h.close()
		return nil, fmt.Errorf("migrate hydra database: %w\n%s", err, out)
	}
	for attempt := 0; ; attempt++ {
		ports, err := freePorts(2)
		if err != nil {
			h.close()
			return nil, err
		}
		h.issuer = "http://127.0.0.1:" + strconv.Itoa(ports[0])
		h.admin = "http://127.0.0.1:" + strconv.Itoa(ports[1])
		env := append(baseEnv(dir),
			dsn,
			"SECRETS_SYSTEM="+hex.EncodeToString(secret),
			"URLS_SELF_ISSUER="+h.issuer,
			"URLS_LOGIN="+h.uiURL+"/login",
			"URLS_CONSENT="+h.uiURL+"/consent",
			"URLS_LOGOUT="+h.uiURL+"/logout",
			"SERVE_PUBLIC_HOST=127.0.0.1", "SERVE_PUBLIC_PORT="+strconv.Itoa(ports[0]),
			"SERVE_ADMIN_HOST=127.0.0.1", "SERVE_ADMIN_PORT="+strconv.Itoa(ports[1]),
			"SERVE_COOKIES_SAME_SITE_MODE=Lax",
			"STRATEGIES_ACCESS_TOKEN=jwt", // the upstream gets a JWT it can verify against the JWKS
			"LOG_LEVEL=warn", "SQA_OPT_OUT=true",
		)
		h.proc, err = startProcess("hydra", dir, env, bin, "serve", "all", "--dev", "--sqa-opt-out")
		if err != nil {
			h.close()
			return nil, err
		}
		err = h.proc.waitReady(func() error { return h.call(http.MethodGet, "/health/ready", nil, nil) })
		if err == nil {
			break
		}
		h.proc.stop()
		if attempt == 2 { // a port taken between picking and binding is retried; anything else fails
			h.close()
			return nil, err
		}
	}
	for _, set := range []string{"hydra.openid.id-token", "hydra.jwt.access-token"} {
		var keys jose.JSONWebKeySet
		if err := h.call(http.MethodPost, "/admin/keys/"+set, map[string]string{"alg": "ES256", "use": "sig"}, &keys); err != nil {
			h.close()
			return nil, fmt.Errorf("create %s key: %w", set, err)
		}
		if set == "hydra.openid.id-token" && len(keys.Keys) == 1 {
			h.idKey = keys.Keys[0]
		}
	}
	return h, nil
}

func (h *hydra) close() {
	if h.proc != nil {
		h.proc.stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = h.ui.Shutdown(ctx)
}

// logoutsOf returns how many logouts of the client's sessions the login app accepted.
func (h *hydra) logoutsOf(clientID string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.logouts[clientID]
}

// jwksURL is where Hydra publishes its public signing keys.
func (h *hydra) jwksURL() string { return h.issuer + "/.well-known/jwks.json" }

// newClient registers a confidential OAuth2 client for an app at base (scheme://host:port), with its
// callback and its root as the only post-logout return, and returns its id and secret.
func (h *hydra) newClient(base string) (id, secret string, err error) {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	secret = hex.EncodeToString(b)
	var out struct {
		ClientID string `json:"client_id"`
	}
	err = h.call(http.MethodPost, "/admin/clients", map[string]any{
		"client_secret":              secret,
		"redirect_uris":              []string{base + "/oauth2/callback"},
		"post_logout_redirect_uris":  []string{base + "/"},
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"scope":                      "openid offline_access profile email",
		"token_endpoint_auth_method": "client_secret_basic",
	}, &out)
	if err != nil {
		return "", "", fmt.Errorf("create client: %w", err)
	}
	return out.ClientID, secret, nil
}

// call sends one admin API request with a JSON body (if in is not nil) and decodes the JSON answer into
// out (if not nil). Any status but 2xx is an error.
func (h *hydra) call(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, h.admin+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: status %d: %s", method, path, resp.StatusCode, b)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

// accept answers one login, consent or logout challenge and returns where the browser goes next.
func (h *hydra) accept(flow, challenge string, body any) (string, error) {
	var out struct {
		RedirectTo string `json:"redirect_to"`
	}
	path := "/admin/oauth2/auth/requests/" + flow + "/accept?" + flow + "_challenge=" + url.QueryEscape(challenge)
	if err := h.call(http.MethodPut, path, body, &out); err != nil {
		return "", err
	}
	if out.RedirectTo == "" {
		return "", errors.New("accept: no redirect_to")
	}
	return out.RedirectTo, nil
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<title>Log in</title>
<form method="post" action="/login">
<input type="hidden" name="challenge" value="{{.}}">
<label>User <input id="username" name="username" autocomplete="off"></label>
<button id="login" type="submit">Log in</button>
</form>`))

// uiHandler is the login app: a form for new logins (Hydra's remembered ones are accepted at once),
// consent granted for every requested scope with the email in the ID token, and logout accepted.
func (h *hydra) uiHandler() http.Handler {
	mux := http.NewServeMux()
	fail := func(w http.ResponseWriter, err error) { http.Error(w, err.Error(), http.StatusBadGateway) }
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		challenge := r.URL.Query().Get("login_challenge")
		var lr struct {
			Skip    bool   `json:"skip"`
			Subject string `json:"subject"`
		}
		if err := h.call(http.MethodGet, "/admin/oauth2/auth/requests/login?login_challenge="+url.QueryEscape(challenge), nil, &lr); err != nil {
			fail(w, err)
			return
		}
		if lr.Skip {
			to, err := h.accept("login", challenge, map[string]any{"subject": lr.Subject})
			if err != nil {
				fail(w, err)
				return
			}
			http.Redirect(w, r, to, http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = loginPage.Execute(w, challenge)
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		to, err := h.accept("login", r.PostFormValue("challenge"), map[string]any{
			"subject": r.PostFormValue("username"), "remember": true, "remember_for": 3600,
		})
		if err != nil {
			fail(w, err)
			return
		}
		http.Redirect(w, r, to, http.StatusFound)
	})
	mux.HandleFunc("GET /consent", func(w http.ResponseWriter, r *http.Request) {
		challenge := r.URL.Query().Get("consent_challenge")
		var cr struct {
			Subject  string   `json:"subject"`
			Scope    []string `json:"requested_scope"`
			Audience []string `json:"requested_access_token_audience"`
		}
		if err := h.call(http.MethodGet, "/admin/oauth2/auth/requests/consent?consent_challenge="+url.QueryEscape(challenge), nil, &cr); err != nil {
			fail(w, err)
			return
		}
		email := cr.Subject + "@example.com"
		to, err := h.accept("consent", challenge, map[string]any{
			"grant_scope": cr.Scope, "grant_access_token_audience": cr.Audience, "remember": true, "remember_for": 3600,
			"session": map[string]any{
				"id_token":     map[string]any{"email": email, "email_verified": true, "preferred_username": cr.Subject},
				"access_token": map[string]any{"email": email},
			},
		})
		if err != nil {
			fail(w, err)
			return
		}
		http.Redirect(w, r, to, http.StatusFound)
	})
	mux.HandleFunc("GET /logout", func(w http.ResponseWriter, r *http.Request) {
		challenge := r.URL.Query().Get("logout_challenge")
		var lr struct {
			Client struct {
				ID string `json:"client_id"`
			} `json:"client"`
		}
		if err := h.call(http.MethodGet, "/admin/oauth2/auth/requests/logout?logout_challenge="+url.QueryEscape(challenge), nil, &lr); err != nil {
			fail(w, err)
			return
		}
		to, err := h.accept("logout", challenge, nil)
		if err != nil {
			fail(w, err)
			return
		}
		h.mu.Lock()
		h.logouts[lr.Client.ID]++
		h.mu.Unlock()
		http.Redirect(w, r, to, http.StatusFound)
	})
	return mux
}
