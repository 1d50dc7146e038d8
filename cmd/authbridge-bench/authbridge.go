package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/authbridge/authbridge/internal/testkit"
	"github.com/authbridge/authbridge/pkg/devidp"
)

// startLocal builds authbridge (unless --authbridge-bin is given), starts it against the local
// redis-server and an in-process development provider, and logs in. With --compare it starts a second
// authbridge with the session cache off.
func (s *system) startLocal(ctx context.Context, o *options, dir string, log io.Writer) error {
	bin := o.setup.authbridgeBin
	if bin == "" {
		var err error
		if bin, err = buildAuthbridge(ctx, dir, log); err != nil {
			return err
		}
	}
	type variant struct {
		label string
		env   []string
	}
	variants := []variant{{"", o.setup.env}}
	if o.compare {
		variants = append(variants, variant{labelNoCache, append(slices.Clone(o.setup.env), "AUTHBRIDGE_SESSION_CACHE_TTL=0")})
	}
	for _, v := range variants {
		var ab *authbridge
		var err error
		for range 3 { // a free port can be taken by someone else before authbridge binds it
			ab, err = startAuthbridge(ctx, bin, s.refRedisURL, v.env)
			if !errors.Is(err, errPortTaken) {
				break
			}
		}
		if err != nil {
			return err
		}
		s.onClose(ab.stop)
		fmt.Fprintf(log, "logging in %d sessions through the development provider\n", o.setup.sessions)
		cookies, err := login(ctx, ab.httpURL, o.setup.sessions, cookieName(v.env))
		if err != nil {
			return err
		}
		if n := o.setup.seed; n > 0 {
			fmt.Fprintf(log, "writing %d more sessions into Redis\n", n)
			seeded, err := seedSessions(ctx, s.refRedisURL, cookies[0], n)
			if err != nil {
				return err
			}
			cookies = append(cookies, seeded...)
		}
		s.instances = append(s.instances, instance{label: v.label, httpURL: ab.forwardAuthURL, grpcAddr: ab.grpcAddr,
			pid: ab.proc.pid(), cookies: cookies, adminURL: ab.adminURL})
	}
	s.redis = s.refRedis
	return nil
}

// buildAuthbridge builds the authbridge binary the way `make build` does.
func buildAuthbridge(ctx context.Context, dir string, log io.Writer) (string, error) {
	out := filepath.Join(dir, "authbridge")
	fmt.Fprintln(log, "building authbridge (go build ./cmd/authbridge)")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, "github.com/authbridge/authbridge/cmd/authbridge")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build authbridge (run inside the repository, or pass --authbridge-bin): %w\n%s", err, b)
	}
	return out, nil
}

// authbridge is a running `authbridge serve` and the development provider it logs in with.
type authbridge struct {
	proc                        *child
	idp                         *httptest.Server
	httpURL, grpcAddr, adminURL string // browser-facing listener (logins), ext_authz, admin
	forwardAuthURL              string // gateway-only listener: the /auth that is measured
}

func (a *authbridge) stop() {
	a.proc.stop()
	a.idp.Close()
}

var errPortTaken = errors.New("port taken")

// startAuthbridge runs bin serve on three free ports with a Redis session store and the development
// provider (auto-login, access tokens that outlive any run), and waits until it is ready.
func startAuthbridge(ctx context.Context, bin, redisURL string, extraEnv []string) (*authbridge, error) {
	var ports [4]int
	for i := range ports {
		p, err := testkit.FreePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	addr := func(p int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p)) }
	a := &authbridge{httpURL: "http://" + addr(ports[0]), grpcAddr: addr(ports[1]), adminURL: "http://" + addr(ports[2]),
		forwardAuthURL: "http://" + addr(ports[3])}
	a.idp = httptest.NewUnstartedServer(nil)
	secret := rand.Text()
	idp, err := devidp.New(devidp.Options{
		Issuer: "http://" + a.idp.Listener.Addr().String() + "/",
		Clients: []devidp.Client{{ID: "bench", Secret: secret,
			RedirectURIs: []string{a.httpURL + "/oauth2/callback"}, LogoutURLs: []string{a.httpURL + "/"}}},
		Users:          []devidp.User{{Username: "bench", Password: rand.Text(), Email: "bench@example.com", Name: "Bench"}},
		Audience:       "https://api.bench.test",
		AutoLogin:      "bench",
		AccessTokenTTL: 24 * time.Hour, // never refreshed during a run or a soak
		IDTokenTTL:     24 * time.Hour,
	})
	if err != nil {
		a.idp.Close()
		return nil, fmt.Errorf("create development provider: %w", err)
	}
	a.idp.Config.Handler = idp.Handler()
	a.idp.Start()
	env := append(environWithout("AUTHBRIDGE_"),
		"AUTHBRIDGE_OIDC_ISSUER_URL="+idp.Issuer(),
		"AUTHBRIDGE_OIDC_CLIENT_ID=bench",
		"AUTHBRIDGE_OIDC_CLIENT_SECRET="+secret,
		"AUTHBRIDGE_OIDC_REDIRECT_URL="+a.httpURL+"/oauth2/callback",
		"AUTHBRIDGE_OIDC_AUDIENCE=https://api.bench.test",
		"AUTHBRIDGE_SESSION_STORE=redis",
		"AUTHBRIDGE_SESSION_REDIS_URL="+redisURL,
		"AUTHBRIDGE_SESSION_COOKIE_SECURE=false",
		"AUTHBRIDGE_REDIRECT_ALLOWED_DOMAINS=127.0.0.1,"+appHost,
		"AUTHBRIDGE_LISTEN_HTTP="+addr(ports[0]),
		"AUTHBRIDGE_LISTEN_GRPC="+addr(ports[1]),
		"AUTHBRIDGE_LISTEN_ADMIN="+addr(ports[2]),
		"AUTHBRIDGE_LISTEN_FORWARD_AUTH="+addr(ports[3]),
		"AUTHBRIDGE_LOG_LEVEL=warn",
		// Seals the pending-login cookies; each instance finishes the logins it starts.
		"AUTHBRIDGE_SESSION_COOKIE_SECRET="+rand.Text()+rand.Text(),
	)
	// exec keeps the last value of a repeated key, so --env overrides the settings above.
	a.proc, err = startChild("authbridge", bin, []string{"serve"}, append(env, extraEnv...))
	if err != nil {
		a.idp.Close()
		return nil, err
	}
	if err := a.waitReady(ctx); err != nil {
		a.stop()
		if strings.Contains(a.proc.out.tail(), "address already in use") {
			return nil, fmt.Errorf("%w: %w", errPortTaken, err)
		}
		return nil, err
	}
	return a, nil
}

// waitReady polls /readyz on the admin listener until it answers 200.
func (a *authbridge) waitReady(ctx context.Context) error {
	client := &http.Client{Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(authbridgeStartTimeout)
	for {
		if resp, err := client.Get(a.adminURL + "/readyz"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if a.proc.exited() {
			return a.proc.failed(errors.New("exited before it was ready"))
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return a.proc.failed(fmt.Errorf("not ready within %s", authbridgeStartTimeout))
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// environWithout is the process environment minus the variables starting with prefix.
func environWithout(prefix string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, prefix) {
			out = append(out, kv)
		}
	}
	return out
}
