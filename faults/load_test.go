package faults_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/gateway"
	"github.com/authbridge/authbridge/pkg/session"
)

// kind is what a caller of the load holds.
type kind int

const (
	validSession kind = iota // a cookie from a real login, not signed out
	noCookie                 // an unauthenticated browser or API client
	forgedCookie             // a well-formed ticket that no login issued
	signedOut                // a cookie from a login whose session was signed out before the load began
)

// caller is one client of the load: a browser navigating or an API call, holding cookie (may be "").
type caller struct {
	kind   kind
	cookie string
	api    bool   // Accept: application/json rather than a browser navigation
	bearer string // an Authorization: Bearer token, for API clients
}

// outcome is one decision as the gateway saw it.
type outcome struct {
	allowed bool
	status  int // the status the gateway would send: 200 for an allow
	took    time.Duration
	err     error // the front could not be reached or answered nothing usable
}

// stream numbers the CheckRequests, as Envoy's stream ids do.
var stream atomic.Uint64

// checkGRPC asks the ext_authz front with the CheckRequest an edge Envoy sends for c's request.
func (rp *replica) checkGRPC(ctx context.Context, c caller) outcome {
	req, _ := http.NewRequest(http.MethodGet, "https://"+appHost+"/api/items?page=2", nil)
	req.RequestURI, req.Host, req.RemoteAddr, req.TLS = "/api/items?page=2", appHost, "10.9.8.7:41000", &tls.ConnectionState{}
	setHeaders(req.Header, c)
	gateway.EdgeHeaders(req)
	cr := gateway.CheckRequest(req, stream.Add(1), time.Now())
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	start := time.Now()
	resp, err := rp.check.Check(ctx, cr)
	o := outcome{took: time.Since(start), err: err}
	if err != nil {
		return o
	}
	if resp.GetStatus().GetCode() == 0 && resp.GetOkResponse() != nil {
		o.allowed, o.status = true, http.StatusOK
	} else {
		o.status = int(resp.GetDeniedResponse().GetStatus().GetCode())
	}
	return o
}

// checkHTTP asks the forward-auth front as Traefik's forwardAuth does.
func (rp *replica) checkHTTP(ctx context.Context, c caller) outcome {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, rp.forwardURL+"/auth", nil)
	req.Header = http.Header{"X-Forwarded-Method": {"GET"}, "X-Forwarded-Proto": {"https"},
		"X-Forwarded-Host": {appHost}, "X-Forwarded-Uri": {"/api/items?page=2"}, "X-Forwarded-For": {"10.9.8.7"}}
	setHeaders(req.Header, c)
	start := time.Now()
	resp, err := rp.http.Do(req)
	o := outcome{took: time.Since(start), err: err}
	if err != nil {
		return o
	}
	resp.Body.Close()
	o.status = resp.StatusCode
	o.allowed = resp.StatusCode == http.StatusOK && strings.HasPrefix(resp.Header.Get("Authorization"), "Bearer ")
	return o
}

func setHeaders(h http.Header, c caller) {
	if c.cookie != "" {
		h.Set("Cookie", c.cookie)
	}
	if c.bearer != "" {
		h.Set("Authorization", "Bearer "+c.bearer)
	}
	if c.api {
		h.Set("Accept", "application/json")
	} else {
		h.Set("Accept", "text/html")
		h.Set("Sec-Fetch-Mode", "navigate")
	}
}

// check asks rp through a front picked at random.
func (rp *replica) checkAny(ctx context.Context, c caller) outcome {
	if rand.IntN(2) == 0 {
		return rp.checkGRPC(ctx, c)
	}
	return rp.checkHTTP(ctx, c)
}

// tally counts one phase of a load. The oracle: an allow for a caller whose session is not valid at that
// moment is wrongly allowed.
type tally struct {
	requests, allowed, wronglyAllowed int
	validAllowed                      int
	validRefused                      int // a valid session refused with something other than 503
	status5xx, errs                   int
	statuses                          map[int]int
	validTook, unavailableTook        []time.Duration // latencies of valid sessions' decisions; of 503s
}

func (t *tally) add(c caller, valid bool, o outcome) {
	t.requests++
	switch {
	case o.err != nil:
		t.errs++
		if valid {
			t.validTook = append(t.validTook, o.took) // a failed request counts against success
		}
		return
	case o.allowed:
		t.allowed++
		if valid {
			t.validAllowed++
		}
		if !valid {
			t.wronglyAllowed++
		}
	case valid && o.status != http.StatusServiceUnavailable:
		t.validRefused++
	}
	if t.statuses == nil {
		t.statuses = map[int]int{}
	}
	t.statuses[o.status]++
	if o.status >= 500 {
		t.status5xx++
	}
	if o.status == http.StatusServiceUnavailable {
		t.unavailableTook = append(t.unavailableTook, o.took)
	}
	if valid {
		t.validTook = append(t.validTook, o.took)
	}
}

// validSuccess is the share of valid sessions' requests that were allowed.
func (t *tally) validSuccess() float64 {
	if len(t.validTook) == 0 {
		return 1
	}
	return float64(t.validAllowed) / float64(len(t.validTook))
}

// requireSuccess999 checks that at least 99.9 % of the valid sessions' requests in tl were allowed. A
// phase of fewer than 1,000 such requests cannot show 99.9 % either way (one miss is more than 0.1 % of
// it), so there one miss — a 503, fail-closed — is let pass: the short runs judge the promise as far as
// their sample can, and the full runs (thousands per phase) judge it exactly.
func requireSuccess999(t *testing.T, tl *tally, what ...any) {
	t.Helper()
	n := len(tl.validTook)
	missed := n - tl.validAllowed
	context := ""
	if len(what) > 0 {
		context = fmt.Sprintf(fmt.Sprint(what[0]), what[1:]...) + ": "
	}
	require.LessOrEqual(t, missed, max(1, n/1000), "%svalid sessions allowed: %d of %d (%s)", context, tl.validAllowed, n, tl)
}

func (t *tally) String() string {
	codes := make([]int, 0, len(t.statuses))
	for k := range t.statuses {
		codes = append(codes, k)
	}
	slices.Sort(codes)
	var st []string
	for _, k := range codes {
		st = append(st, fmt.Sprintf("%d×%d", k, t.statuses[k]))
	}
	return fmt.Sprintf("requests=%d allowed=%d wrongly_allowed=%d valid_refused=%d 5xx=%d errors=%d valid_success=%.4f "+
		"valid_p50=%s valid_p99=%s 503_max=%s statuses=[%s]", t.requests, t.allowed, t.wronglyAllowed, t.validRefused,
		t.status5xx, t.errs, t.validSuccess(), pct(t.validTook, 50), pct(t.validTook, 99), pct(t.unavailableTook, 100),
		strings.Join(st, " "))
}

// pct is the p-th percentile of ds (0 when empty).
func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p / 100)
	return s[i].Round(100 * time.Microsecond)
}

// load runs a mixed load against the rig's replicas in rotation until stopped, tallying by phase.
type load struct {
	r       *rig
	callers []caller
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	mu      sync.Mutex
	valid   map[string]bool // cookies whose sessions are valid now
	phase   string
	tallies map[string]*tally
	order   []string
	out     []int // replicas out of rotation (as a gateway's health check takes them out)
}

// mix is the load's callers: every valid cookie as browser and API, plus unauthenticated browsers and
// API clients, forged tickets and signed-out cookies.
func mix(valid, gone []string) []caller {
	var cs []caller
	for _, ck := range valid {
		cs = append(cs, caller{kind: validSession, cookie: ck}, caller{kind: validSession, cookie: ck, api: true})
	}
	for _, ck := range gone {
		cs = append(cs, caller{kind: signedOut, cookie: ck, api: true})
	}
	for i := range max(len(valid)/4, 2) {
		t, _ := session.NewTicket()
		cs = append(cs, caller{kind: noCookie, api: i%2 == 0}, caller{kind: forgedCookie, cookie: cookieName + "=" + t.String(), api: i%2 == 1})
	}
	return cs
}

// startLoad runs workers goroutines, each sending one request every interval, in phase "before".
func (r *rig) startLoad(callers []caller, workers int, interval time.Duration) *load {
	ctx, cancel := context.WithCancel(r.t.Context())
	l := &load{r: r, callers: callers, cancel: cancel, valid: map[string]bool{}, tallies: map[string]*tally{}}
	for _, c := range callers {
		if c.kind == validSession {
			l.valid[c.cookie] = true
		}
	}
	l.setPhase("before")
	for w := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for i := w; ; i++ {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				c := callers[rand.IntN(len(callers))]
				rp := l.pick(i)
				// The oracle judges by what held when the request left: a session that ends while its
				// decision is in flight may be allowed by that decision.
				valid := l.isValid(c)
				o := rp.checkAny(ctx, c)
				if ctx.Err() != nil {
					return
				}
				l.record(c, valid, o)
			}
		}()
	}
	return l
}

func (l *load) pick(i int) *replica {
	l.mu.Lock()
	defer l.mu.Unlock()
	for j := range len(l.r.replicas) {
		k := (i + j) % len(l.r.replicas)
		if !slices.Contains(l.out, k) {
			return l.r.replicas[k]
		}
	}
	return l.r.replicas[0]
}

// rotate takes replica k out of the load's rotation or puts it back.
func (l *load) rotate(k int, in bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.out = slices.DeleteFunc(l.out, func(x int) bool { return x == k })
	if !in {
		l.out = append(l.out, k)
	}
}

func (l *load) isValid(c caller) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return c.kind == validSession && l.valid[c.cookie]
}

func (l *load) record(c caller, valid bool, o outcome) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tallies[l.phase].add(c, valid, o)
}

// setPhase starts tallying into a new phase.
func (l *load) setPhase(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.phase = name
	if l.tallies[name] == nil {
		l.tallies[name] = &tally{}
		l.order = append(l.order, name)
	}
}

// invalidate tells the oracle that these sessions are no longer valid (e.g. Redis lost them): from now
// on an allow for them is wrongly allowed.
func (l *load) invalidate(cookies ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range cookies {
		delete(l.valid, c)
	}
}

// stop ends the load, logs every phase and returns the phases' tallies.
func (l *load) stop(t *testing.T) map[string]*tally {
	l.cancel()
	l.wg.Wait()
	for _, p := range l.order {
		if l.tallies[p].requests == 0 {
			continue
		}
		t.Logf("FAULT %s phase=%s %s", t.Name(), p, l.tallies[p])
	}
	return l.tallies
}

// wronglyAllowed sums the oracle's count over every phase.
func wronglyAllowed(ts map[string]*tally) int {
	n := 0
	for _, t := range ts {
		n += t.wronglyAllowed
	}
	return n
}

// lostSessions probes each cookie through both fronts of every replica and counts the sessions that
// are refused (anything but an allow within a few tries spaced over 2 s; a 503 is retried).
func (r *rig) lostSessions(cookies []string) int {
	lost := 0
	for _, ck := range cookies {
		for _, rp := range r.replicas {
			ok := false
			for try := 0; try < 20 && !ok; try++ {
				c := caller{kind: validSession, cookie: ck, api: try%2 == 0}
				g, h := rp.checkGRPC(r.t.Context(), c), rp.checkHTTP(r.t.Context(), c)
				ok = g.allowed && h.allowed
				if !ok && g.err == nil && h.err == nil && g.status != 503 && h.status != 503 {
					break // refused for good
				}
				if !ok {
					time.Sleep(100 * time.Millisecond)
				}
			}
			if !ok {
				lost++
				break
			}
		}
	}
	return lost
}

// procStats is a replica's resident memory and goroutines from its /metrics.
type procStats struct {
	rss        float64
	heap       float64 // go_memstats_heap_inuse_bytes: what RSS holds on to that the program still uses
	goroutines float64
}

func (rp *replica) stats(t *testing.T) procStats {
	t.Helper()
	resp, err := rp.http.Get(rp.adminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s procStats
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		v, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "process_resident_memory_bytes":
			s.rss = v
		case "go_goroutines":
			s.goroutines = v
		case "go_memstats_heap_inuse_bytes":
			s.heap = v
		}
	}
	if s.rss == 0 || s.goroutines == 0 {
		t.Fatal("/metrics has no process_resident_memory_bytes or go_goroutines")
	}
	return s
}

// metric sums every series of one counter or gauge in rp's /metrics.
func (rp *replica) metric(t *testing.T, name string) float64 {
	t.Helper()
	return rp.sum(t, func(line string) bool {
		return strings.HasPrefix(line, name+" ") || strings.HasPrefix(line, name+"{")
	})
}

// sum adds up the values of the /metrics lines that keep accepts.
func (rp *replica) sum(t *testing.T, keep func(line string) bool) float64 {
	t.Helper()
	resp, err := rp.http.Get(rp.adminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if line := sc.Text(); keep(line) {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			sum += v
		}
	}
	return sum
}

// refused counts the cookies that both fronts refuse with a login (302 for a browser, 401 for an API
// call), never a 5xx.
func (r *rig) refused(cookies []string) int { return r.refusedOn(r.replicas[0], cookies) }

// refusedOn is refused, asking rp.
func (r *rig) refusedOn(rp *replica, cookies []string) int {
	n := 0
	for _, ck := range cookies {
		g := rp.checkGRPC(r.t.Context(), caller{kind: validSession, cookie: ck})
		h := rp.checkHTTP(r.t.Context(), caller{kind: validSession, cookie: ck, api: true})
		if g.err == nil && h.err == nil && g.status == http.StatusFound && h.status == http.StatusUnauthorized {
			n++
		}
	}
	return n
}

// goroutinesBack reports whether after is within 10 % of base, plus slack for the load's own requests in
// flight at the moment of sampling (each holds a handler goroutine and, over HTTP/1.1, a connection's).
func goroutinesBack(base, after procStats) bool {
	return after.goroutines <= base.goroutines*1.1+2*workers
}

// overBudget reads authbridge_decision_duration_seconds from rp's /metrics: how many decisions the
// replica itself took longer than 250 ms over (the bucket above the 150 ms store timeout), of how many.
// It tells the replica's own latency from what the load generator's clock adds on a busy machine.
func (rp *replica) overBudget(t *testing.T) (over, total float64) {
	t.Helper()
	return rp.metric(t, "authbridge_decision_duration_seconds_count") - rp.bucket(t, "0.25"),
		rp.metric(t, "authbridge_decision_duration_seconds_count")
}

// bucket sums the decision-duration histogram's bucket le over every front.
func (rp *replica) bucket(t *testing.T, le string) float64 {
	t.Helper()
	return rp.sum(t, func(line string) bool {
		return strings.HasPrefix(line, "authbridge_decision_duration_seconds_bucket{") && strings.Contains(line, `le="`+le+`"`)
	})
}
