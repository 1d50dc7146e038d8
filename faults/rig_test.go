package faults_test

import (
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/authbridge/authbridge/internal/redistest"
	"github.com/authbridge/authbridge/internal/testkit"
	"github.com/authbridge/authbridge/pkg/devidp"
)

// fullRun selects the durations the scenario table names (Redis down 60 s, provider down 5 min); without
// it every scenario runs a short version that keeps the whole package within a few minutes.
var fullRun = flag.Bool("faults.full", os.Getenv("AUTHBRIDGE_FAULTS_FULL") == "1",
	"run the full-length fault scenarios (also AUTHBRIDGE_FAULTS_FULL=1)")

// span is short in the default run and full with -faults.full.
func span(short, full time.Duration) time.Duration {
	if *fullRun {
		return full
	}
	return short
}

const (
	appHost    = "app.faults.test"
	cookieName = "faults"
	clientID   = "faults"
	audience   = "https://api.faults.test"
	// sentinelMaster is the name the sentinels know the primary by.
	sentinelMaster = "authbridge"
	// storeTimeout is session.redis.timeout for every replica: the budget a decision has when Redis
	// does not answer (below Envoy's 200 ms ext_authz default).
	storeTimeout = 150 * time.Millisecond
)

// binary is authbridge built once per test process from the tree.
var binary struct {
	once sync.Once
	path string
	err  error
}

func authbridgeBinary(t *testing.T) string {
	t.Helper()
	binary.once.Do(func() {
		dir, err := os.MkdirTemp("", "authbridge-faults-")
		if err != nil {
			binary.err = err
			return
		}
		binary.path = filepath.Join(dir, "authbridge")
		cmd := exec.Command("go", "build", "-o", binary.path, "./cmd/authbridge")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			binary.err = fmt.Errorf("build authbridge: %w\n%s", err, out)
		}
	})
	if binary.err != nil {
		t.Fatal(binary.err)
	}
	return binary.path
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if binary.path != "" {
		os.RemoveAll(filepath.Dir(binary.path))
	}
	os.Exit(code)
}

// provider is the development provider on a real HTTP server, with a switch that takes it down: while
// down, every connection is reset, as a crashed or unreachable provider looks to its clients.
type provider struct {
	*devidp.IDP
	srv  *httptest.Server
	down atomic.Bool
	skew atomic.Int64 // the provider's clock runs this many nanoseconds ahead of the machine's
}

// startProvider runs the provider; tune, when set, changes its options first.
func startProvider(t *testing.T, tune func(*devidp.Options)) *provider {
	t.Helper()
	p := &provider{srv: httptest.NewUnstartedServer(nil)}
	issuer := "http://" + p.srv.Listener.Addr().String() + "/"
	o := devidp.Options{
		Issuer:         issuer,
		Clients:        []devidp.Client{{ID: clientID, Secret: "faults-secret", RedirectURIs: []string{"https://" + appHost + "/oauth2/callback"}}},
		Users:          []devidp.User{{Username: "user", Password: rand.Text(), Email: "user@faults.test", Name: "User"}},
		Audience:       audience,
		AutoLogin:      "user",
		AccessTokenTTL: time.Hour, // no refresh during a run unless tuned
		IDTokenTTL:     time.Hour,
		Now:            func() time.Time { return time.Now().Add(time.Duration(p.skew.Load())) },
	}
	if tune != nil {
		tune(&o)
	}
	idp, err := devidp.New(o)
	if err != nil {
		t.Fatal(err)
	}
	p.IDP = idp
	h := idp.Handler()
	p.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.down.Load() {
			panic(http.ErrAbortHandler) // the connection is dropped without an answer
		}
		h.ServeHTTP(w, r)
	})
	p.srv.Start()
	t.Cleanup(p.srv.Close)
	return p
}

// replica is one `authbridge serve` process and its clients.
type replica struct {
	proc                   *testkit.Process
	env                    []string
	browserURL, forwardURL string // browser-facing listener (login, sign-out), gateway-only /auth
	adminURL, grpcAddr     string
	conn                   *grpc.ClientConn
	check                  authv3.AuthorizationClient
	http                   *http.Client
}

// replicaEnv configures a replica: the provider, Redis at redisURL, four listeners, and extra
// AUTHBRIDGE_ settings (later ones win).
func replicaEnv(p *provider, redisURL string, ports []int, extra ...string) []string {
	addr := func(p int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p)) }
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(),
		"AUTHBRIDGE_OIDC_ISSUER_URL=" + p.Issuer(),
		"AUTHBRIDGE_OIDC_CLIENT_ID=" + clientID,
		"AUTHBRIDGE_OIDC_CLIENT_SECRET=faults-secret",
		"AUTHBRIDGE_OIDC_REDIRECT_URL=https://" + appHost + "/oauth2/callback",
		"AUTHBRIDGE_OIDC_AUDIENCE=" + audience,
		"AUTHBRIDGE_OIDC_TIMEOUT=2s",
		"AUTHBRIDGE_SESSION_STORE=redis",
		"AUTHBRIDGE_SESSION_REDIS_TIMEOUT=" + storeTimeout.String(),
		"AUTHBRIDGE_SESSION_COOKIE_NAME=" + cookieName,
		"AUTHBRIDGE_SESSION_COOKIE_SECRET=faults-cookie-secret-0123456789abcdef",
		"AUTHBRIDGE_REDIRECT_ALLOWED_DOMAINS=" + appHost,
		"AUTHBRIDGE_LISTEN_HTTP=" + addr(ports[0]),
		"AUTHBRIDGE_LISTEN_FORWARD_AUTH=" + addr(ports[1]),
		"AUTHBRIDGE_LISTEN_GRPC=" + addr(ports[2]),
		"AUTHBRIDGE_LISTEN_ADMIN=" + addr(ports[3]),
		"AUTHBRIDGE_LOG_LEVEL=warn",
	}
	if redisURL != "" {
		env = append(env, "AUTHBRIDGE_SESSION_REDIS_URL="+redisURL)
	}
	return append(env, extra...)
}

// startReplica runs authbridge with env and waits until /readyz answers 200.
func startReplica(t *testing.T, env []string) *replica {
	t.Helper()
	get := func(k string) string {
		for i := len(env) - 1; i >= 0; i-- {
			if v, ok := strings.CutPrefix(env[i], k+"="); ok {
				return v
			}
		}
		return ""
	}
	r := &replica{env: env,
		browserURL: "http://" + get("AUTHBRIDGE_LISTEN_HTTP"), forwardURL: "http://" + get("AUTHBRIDGE_LISTEN_FORWARD_AUTH"),
		grpcAddr: get("AUTHBRIDGE_LISTEN_GRPC"), adminURL: "http://" + get("AUTHBRIDGE_LISTEN_ADMIN"),
		http: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	r.start(t)
	cc, err := grpc.NewClient(r.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	r.conn, r.check = cc, authv3.NewAuthorizationClient(cc)
	t.Cleanup(func() { cc.Close() })
	return r
}

func (r *replica) start(t *testing.T) {
	t.Helper()
	p, err := testkit.Start("authbridge", t.TempDir(), r.env, authbridgeBinary(t), "serve")
	if err != nil {
		t.Fatal(err)
	}
	r.proc = p
	t.Cleanup(p.Kill)
	if err := p.WaitReady(r.ready); err != nil {
		t.Fatal(err)
	}
}

func (r *replica) ready() error {
	resp, err := r.http.Get(r.adminURL + "/readyz")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("readyz answered %d", resp.StatusCode)
	}
	return nil
}

// rig is one scenario's system: Redis (reached directly or through a fault proxy), the provider, and
// authbridge replicas.
type rig struct {
	t         *testing.T
	redis     *redistest.Server   // the primary
	sentinels []*redistest.Server // with rigOptions.sentinel
	proxy     *proxy              // nil when the replicas reach Redis directly
	idp       *provider
	replicas  []*replica
}

type rigOptions struct {
	replicas int
	proxy    bool // put a fault proxy between the replicas and Redis
	sentinel bool // a Sentinel set: the primary, 2 Redis replicas, 3 sentinels (quorum 2)
	provider func(*devidp.Options)
	env      []string // extra AUTHBRIDGE_ settings for every replica
}

func newRig(t *testing.T, o rigOptions) *rig {
	t.Helper()
	r := &rig{t: t, redis: redistest.Start(t), idp: startProvider(t, o.provider)}
	redisURL := r.redis.URL()
	env := o.env
	if o.sentinel {
		redistest.StartReplica(t, r.redis)
		redistest.StartReplica(t, r.redis)
		var addrs []string
		for range 3 {
			s := redistest.StartSentinelQuorum(t, r.redis, sentinelMaster, 2)
			r.sentinels = append(r.sentinels, s)
			addrs = append(addrs, s.Addr())
		}
		redisURL = ""
		env = append([]string{"AUTHBRIDGE_SESSION_REDIS_ADDRS=" + strings.Join(addrs, ","),
			"AUTHBRIDGE_SESSION_REDIS_MASTER_NAME=" + sentinelMaster}, env...)
	}
	if o.proxy {
		r.proxy = startProxy(t, r.redis.Addr())
		redisURL = "redis://" + r.proxy.addr()
	}
	for range max(o.replicas, 1) {
		ports, err := testkit.FreePorts(4)
		if err != nil {
			t.Fatal(err)
		}
		r.replicas = append(r.replicas, startReplica(t, replicaEnv(r.idp, redisURL, ports, env...)))
	}
	return r
}

// login logs n browsers in through replica 0's /oauth2/start and the provider's auto-login, as a browser
// does, and returns each one's session cookie ("name=value"). Sessions are made by real logins rather
// than written into Redis, so the records are exactly the product's and the provider knows them.
func (r *rig) login(n int) []string {
	r.t.Helper()
	out := make([]string, 0, n)
	for range n {
		c, err := r.loginRetrying(r.replicas[0])
		if err != nil {
			r.t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// loginRetrying is loginOnce, tried up to three times: on a saturated machine a callback may meet the
// store timeout and get a 503 (fail closed), and a browser tries again.
func (r *rig) loginRetrying(rp *replica) (c string, err error) {
	for range 3 {
		if c, err = r.loginOnce(rp); err == nil {
			return c, nil
		}
	}
	return "", err
}

// loginOnce follows /oauth2/start → the provider's /authorize → /oauth2/callback with a fresh jar. The
// callback URL names appHost, so each hop to it is sent to the replica's browser listener instead.
func (r *rig) loginOnce(rp *replica) (string, error) {
	ck, _, err := r.loginSteps(rp, nil)
	return ck, err
}

// loginWithCallback runs a login up to the provider's redirect to the callback, calls fault, then
// delivers the callback and returns its status and how long it took.
func (r *rig) loginWithCallback(rp *replica, fault func(), took *time.Duration) (int, error) {
	_, st, err := r.loginSteps(rp, func() time.Time { fault(); return time.Now() }, took)
	return st, err
}

// loginSteps is loginOnce; with beforeCallback set, it stops after the callback and reports the
// callback's status, timed from the instant beforeCallback returns.
func (r *rig) loginSteps(rp *replica, beforeCallback func() time.Time, took ...*time.Duration) (string, int, error) {
	jar, _ := cookiejar.New(nil)
	// The jar is only read and written for appHost by hand: a client jar would send the replica's cookies
	// to the provider too (cookies ignore ports) and back twice.
	c := &http.Client{Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	next := "https://" + appHost + "/oauth2/start?rd=" + url.QueryEscape("https://"+appHost+"/home")
	for range 6 {
		u, err := url.Parse(next)
		if err != nil {
			return "", 0, err
		}
		target := next
		if u.Host == appHost {
			target = rp.browserURL + u.RequestURI()
		}
		req, _ := http.NewRequest(http.MethodGet, target, nil)
		req.Header.Set("Accept", "text/html")
		if u.Host == appHost {
			req.Host = appHost
			req.Header.Set("X-Forwarded-Proto", "https")
			for _, ck := range jar.Cookies(u) {
				req.AddCookie(ck)
			}
		}
		var start time.Time
		if beforeCallback != nil && u.Path == "/oauth2/callback" {
			start = beforeCallback()
		}
		resp, err := c.Do(req)
		if err != nil {
			return "", 0, fmt.Errorf("log in: %w", err)
		}
		if !start.IsZero() {
			resp.Body.Close()
			*took[0] = time.Since(start)
			return "", resp.StatusCode, nil
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if u.Host == appHost {
			jar.SetCookies(u, resp.Cookies())
		}
		if resp.StatusCode != http.StatusFound {
			return "", 0, fmt.Errorf("log in: %s answered %d", u.Path, resp.StatusCode)
		}
		next = resp.Header.Get("Location")
		if strings.HasSuffix(next, "/home") {
			for _, ck := range resp.Cookies() {
				if ck.Name == cookieName && ck.Value != "" {
					return ck.Name + "=" + ck.Value, 0, nil
				}
			}
			return "", 0, errors.New("log in: no session cookie at the end")
		}
	}
	return "", 0, errors.New("log in: too many redirects")
}

// signOut ends the session of cookie through the browser listener, as the user's own click does.
func (r *rig) signOut(cookie string) {
	r.t.Helper()
	rp := r.replicas[0]
	req, _ := http.NewRequest(http.MethodGet, rp.browserURL+"/oauth2/sign_out", nil)
	req.Host = appHost
	req.Header = http.Header{"Cookie": {cookie}, "X-Forwarded-Proto": {"https"}, "Accept": {"text/html"},
		"Sec-Fetch-Site": {"same-origin"}, "Sec-Fetch-Mode": {"navigate"}}
	resp, err := rp.http.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		r.t.Fatalf("sign out answered %d", resp.StatusCode)
	}
}
