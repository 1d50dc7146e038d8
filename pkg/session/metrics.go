package session

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// op is one kind of Store call, a label value of the store metrics.
type op uint8

const (
	opGet op = iota
	opPut
	opDelete
	opPing
	opCompareAndSwap
	opAcquire
	opRenew
	opRelease
	opIndexAdd
	opIndex
	opIndexRemove
	opPublish
	numOps
)

var opNames = [numOps]string{"get", "put", "delete", "ping", "compare_and_swap", "acquire", "renew", "release",
	"index_add", "index", "index_remove", "publish"}

// lookup is the result of one session cache lookup.
type lookup uint8

const (
	lookupHit      lookup = iota
	lookupMiss            // not cached, or expired: read from the store
	lookupBypassed        // the invalidation channel (pub/sub) is not confirmed live: read from the store
	numLookups
)

var lookupNames = [numLookups]string{"hit", "miss", "bypassed"}

// metrics times the store's calls by operation, counts their errors, and counts the cache's lookups and
// invalidations. Every series is resolved once, so a call does no label hashing. A nil *metrics records
// nothing.
type metrics struct {
	latency     [numOps]prometheus.Observer
	errors      [numOps]prometheus.Counter
	lookups     [numLookups]prometheus.Counter
	invalidKey  prometheus.Counter // one session dropped (changed here or announced by another replica)
	invalidated prometheus.Counter // the whole cache emptied (the invalidation channel was lost)
	evicted     prometheus.Counter // an entry made room for another (the cache is at its bound)
	unreadable  prometheus.Counter // a record found under a ticket's key that did not open or decode
}

// EnableMetrics registers the session store and cache metrics with reg and starts recording them: the
// latency and errors of every Store call by operation (ErrNotFound is an answer, not an error), and the
// cache's hits, misses, bypasses and invalidations. Call it once, before the Sessions is used.
func (m *Sessions) EnableMetrics(reg prometheus.Registerer) {
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "authbridge_store_operation_duration_seconds",
		Help:    "Time of one session store call (Redis command or memory operation), by operation.",
		Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
	}, []string{"operation"})
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "authbridge_store_errors_total",
		Help: "Session store calls that failed (timeout, connection refused, ...), by operation; a missing key is not an error.",
	}, []string{"operation"})
	lookups := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "authbridge_session_cache_lookups_total",
		Help: "Session cache lookups by result: hit, miss, or bypassed because the invalidation channel (pub/sub) is not live.",
	}, []string{"result"})
	invalidations := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "authbridge_session_cache_invalidations_total",
		Help: "Session cache invalidations: one session (key) or the whole cache after the invalidation channel was lost (all).",
	}, []string{"scope"})
	evictions := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "authbridge_session_cache_evictions_total",
		Help: "Session cache entries evicted to keep the cache within session.cache_max_entries and session.cache_max_mib.",
	})
	// A record that is found under a ticket's store key but does not open with its key or decode is
	// corruption in the store, or a write from elsewhere: the session reads as absent (the browser logs
	// in again), and this count shows that it happens. A forged cookie finds no record (the store key is
	// a MAC of the id under the ticket's key), so it is not counted.
	unreadable := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "authbridge_session_records_unreadable_total",
		Help: "Session records found in the store that could not be opened or decoded (read as logged out).",
	})
	reg.MustRegister(latency, errs, lookups, invalidations, evictions, unreadable)
	met := &metrics{invalidKey: invalidations.WithLabelValues("key"), invalidated: invalidations.WithLabelValues("all"),
		evicted: evictions, unreadable: unreadable}
	for i, n := range opNames {
		met.latency[i], met.errors[i] = latency.WithLabelValues(n), errs.WithLabelValues(n)
	}
	for i, n := range lookupNames {
		met.lookups[i] = lookups.WithLabelValues(n)
	}
	m.met = met
	m.store = instrument(m.store, met)
	if m.cache != nil {
		m.cache.met = met
	}
}

func (m *metrics) done(o op, start time.Time, err error) {
	if m == nil {
		return
	}
	m.latency[o].Observe(time.Since(start).Seconds())
	if err != nil && !errors.Is(err, ErrNotFound) {
		m.errors[o].Inc()
	}
}

func (m *metrics) unreadableRecord() {
	if m != nil {
		m.unreadable.Inc()
	}
}

func (m *metrics) looked(l lookup) {
	if m != nil {
		m.lookups[l].Inc()
	}
}

func (m *metrics) evict() {
	if m != nil {
		m.evicted.Inc()
	}
}

func (m *metrics) invalidate(all bool) {
	switch {
	case m == nil:
	case all:
		m.invalidated.Inc()
	default:
		m.invalidKey.Inc()
	}
}

// instrument wraps store so that every call is timed and its errors counted. A store that is a Notifier
// stays one (the cache's trust depends on it).
func instrument(store Store, m *metrics) Store {
	in := &instrumented{next: store, m: m}
	if n, ok := store.(Notifier); ok {
		return &instrumentedNotifier{instrumented: in, n: n}
	}
	return in
}

// instrumented is a Store that records metrics around next's calls.
type instrumented struct {
	next Store
	m    *metrics
}

var (
	_ Store    = (*instrumented)(nil)
	_ Notifier = (*instrumentedNotifier)(nil)
)

func (s *instrumented) Get(ctx context.Context, key string) ([]byte, error) {
	start := time.Now()
	v, err := s.next.Get(ctx, key)
	s.m.done(opGet, start, err)
	return v, err
}

func (s *instrumented) Put(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	start := time.Now()
	err := s.next.Put(ctx, key, val, ttl)
	s.m.done(opPut, start, err)
	return err
}

func (s *instrumented) Delete(ctx context.Context, key string) error {
	start := time.Now()
	err := s.next.Delete(ctx, key)
	s.m.done(opDelete, start, err)
	return err
}

func (s *instrumented) Ping(ctx context.Context) error {
	start := time.Now()
	err := s.next.Ping(ctx)
	s.m.done(opPing, start, err)
	return err
}

func (s *instrumented) CompareAndSwap(ctx context.Context, key string, old, val []byte, ttl time.Duration) (bool, error) {
	start := time.Now()
	ok, err := s.next.CompareAndSwap(ctx, key, old, val, ttl)
	s.m.done(opCompareAndSwap, start, err)
	return ok, err
}

func (s *instrumented) Acquire(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	start := time.Now()
	ok, err := s.next.Acquire(ctx, key, owner, ttl)
	s.m.done(opAcquire, start, err)
	return ok, err
}

func (s *instrumented) Renew(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	start := time.Now()
	ok, err := s.next.Renew(ctx, key, owner, ttl)
	s.m.done(opRenew, start, err)
	return ok, err
}

func (s *instrumented) Release(ctx context.Context, key, owner string) error {
	start := time.Now()
	err := s.next.Release(ctx, key, owner)
	s.m.done(opRelease, start, err)
	return err
}

func (s *instrumented) IndexAdd(ctx context.Context, key, member, value string, ttl time.Duration) error {
	start := time.Now()
	err := s.next.IndexAdd(ctx, key, member, value, ttl)
	s.m.done(opIndexAdd, start, err)
	return err
}

func (s *instrumented) Index(ctx context.Context, key string) (map[string]string, error) {
	start := time.Now()
	v, err := s.next.Index(ctx, key)
	s.m.done(opIndex, start, err)
	return v, err
}

func (s *instrumented) IndexRemove(ctx context.Context, key string, members ...string) error {
	start := time.Now()
	err := s.next.IndexRemove(ctx, key, members...)
	s.m.done(opIndexRemove, start, err)
	return err
}

// instrumentedNotifier is an instrumented Store that is also a Notifier. Publish is timed; Subscribe is
// one long call and is not.
type instrumentedNotifier struct {
	*instrumented
	n Notifier
}

func (s *instrumentedNotifier) Publish(ctx context.Context, key string) error {
	start := time.Now()
	err := s.n.Publish(ctx, key)
	s.m.done(opPublish, start, err)
	return err
}

func (s *instrumentedNotifier) Subscribe(ctx context.Context, onKey func(string), onConfirm func(time.Time), onLost func()) error {
	return s.n.Subscribe(ctx, onKey, onConfirm, onLost)
}
