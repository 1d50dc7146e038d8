package authz_test

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/authbridge/authbridge/pkg/session"
)

// errStoreDown is what faultyStore answers for an operation set to fail.
var errStoreDown = errors.New("store down (test)")

// faultyStore passes every call to Store, except the operations named in fail, which answer
// errStoreDown as a store that cannot be reached would. ttls records the TTL of every Put.
type faultyStore struct {
	session.Store
	mu   sync.Mutex
	fail map[string]bool // by method name: "Index", "Acquire", "Put"
	ttls []time.Duration
}

func (f *faultyStore) set(op string, failing bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail == nil {
		f.fail = map[string]bool{}
	}
	f.fail[op] = failing
}

func (f *faultyStore) failing(op string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fail[op]
}

func (f *faultyStore) Index(ctx context.Context, key string) (map[string]string, error) {
	if f.failing("Index") {
		return nil, errStoreDown
	}
	return f.Store.Index(ctx, key)
}

func (f *faultyStore) Acquire(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	if f.failing("Acquire") {
		return false, errStoreDown
	}
	return f.Store.Acquire(ctx, key, owner, ttl)
}

func (f *faultyStore) Put(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	if f.failing("Put") {
		return errStoreDown
	}
	f.mu.Lock()
	f.ttls = append(f.ttls, ttl)
	f.mu.Unlock()
	return f.Store.Put(ctx, key, val, ttl)
}
