package session

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/authbridge/authbridge/internal/spans"
)

// tracerName is the instrumentation scope of the store spans.
const tracerName = "github.com/authbridge/authbridge/pkg/session"

// tracedStore makes a client span, "session.store <op>", of every Store call made inside a recording
// span (a sampled decision), so that a trace shows where a slow check waited. The spans carry the
// operation only: never a key (a hash of a session id) or a record.
type tracedStore struct{ Store }

// tracedNotifier is a tracedStore that keeps its store's Notifier, which the cache looks for.
type tracedNotifier struct {
	tracedStore
	Notifier
}

// traceStore wraps s in a tracedStore, keeping its Notifier when it has one.
func traceStore(s Store) Store {
	if n, ok := s.(Notifier); ok {
		return &tracedNotifier{tracedStore{s}, n}
	}
	return &tracedStore{s}
}

// storeSpan starts the span of one store call; name is a constant, so that nothing is built when the
// request is not traced.
func storeSpan(ctx context.Context, name string) (context.Context, trace.Span) {
	return spans.Child(ctx, tracerName, name, trace.SpanKindClient)
}

func (t *tracedStore) Get(ctx context.Context, key string) ([]byte, error) {
	ctx, sp := storeSpan(ctx, "session.store get")
	v, err := t.Store.Get(ctx, key)
	if errors.Is(err, ErrNotFound) { // an answer, not a failure
		spans.End(sp, nil)
	} else {
		spans.End(sp, err)
	}
	return v, err
}

func (t *tracedStore) Put(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	ctx, sp := storeSpan(ctx, "session.store put")
	err := t.Store.Put(ctx, key, val, ttl)
	spans.End(sp, err)
	return err
}

func (t *tracedStore) Delete(ctx context.Context, key string) error {
	ctx, sp := storeSpan(ctx, "session.store delete")
	err := t.Store.Delete(ctx, key)
	spans.End(sp, err)
	return err
}

func (t *tracedStore) CompareAndSwap(ctx context.Context, key string, old, val []byte, ttl time.Duration) (bool, error) {
	ctx, sp := storeSpan(ctx, "session.store compare_and_swap")
	ok, err := t.Store.CompareAndSwap(ctx, key, old, val, ttl)
	spans.End(sp, err)
	return ok, err
}

func (t *tracedStore) Acquire(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	ctx, sp := storeSpan(ctx, "session.store acquire")
	ok, err := t.Store.Acquire(ctx, key, owner, ttl)
	spans.End(sp, err)
	return ok, err
}

func (t *tracedStore) Renew(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	ctx, sp := storeSpan(ctx, "session.store renew")
	ok, err := t.Store.Renew(ctx, key, owner, ttl)
	spans.End(sp, err)
	return ok, err
}

func (t *tracedStore) Release(ctx context.Context, key, owner string) error {
	ctx, sp := storeSpan(ctx, "session.store release")
	err := t.Store.Release(ctx, key, owner)
	spans.End(sp, err)
	return err
}

func (t *tracedStore) IndexAdd(ctx context.Context, key, member, value string, ttl time.Duration) error {
	ctx, sp := storeSpan(ctx, "session.store index_add")
	err := t.Store.IndexAdd(ctx, key, member, value, ttl)
	spans.End(sp, err)
	return err
}

func (t *tracedStore) Index(ctx context.Context, key string) (map[string]string, error) {
	ctx, sp := storeSpan(ctx, "session.store index")
	m, err := t.Store.Index(ctx, key)
	spans.End(sp, err)
	return m, err
}

func (t *tracedStore) IndexRemove(ctx context.Context, key string, members ...string) error {
	ctx, sp := storeSpan(ctx, "session.store index_remove")
	err := t.Store.IndexRemove(ctx, key, members...)
	spans.End(sp, err)
	return err
}

func (t *tracedNotifier) Publish(ctx context.Context, key string) error {
	ctx, sp := storeSpan(ctx, "session.store publish")
	err := t.Notifier.Publish(ctx, key)
	spans.End(sp, err)
	return err
}
