package sessiontest

import (
	"context"
	"errors"
	"time"

	"github.com/authbridge/authbridge/pkg/session"
)

// ErrDown is what Down answers: a connection error, never session.ErrNotFound.
var ErrDown = errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")

// Down is a Store that fails every call, like a Redis that cannot be reached, for tests that prove the
// code above it fails closed.
type Down struct{}

var _ session.Store = Down{}

// Get fails.
func (Down) Get(context.Context, string) ([]byte, error) { return nil, ErrDown }

// Put fails.
func (Down) Put(context.Context, string, []byte, time.Duration) error { return ErrDown }

// Delete fails.
func (Down) Delete(context.Context, string) error { return ErrDown }

// Ping fails.
func (Down) Ping(context.Context) error { return ErrDown }

// CompareAndSwap fails.
func (Down) CompareAndSwap(context.Context, string, []byte, []byte, time.Duration) (bool, error) {
	return false, ErrDown
}

// Acquire fails.
func (Down) Acquire(context.Context, string, string, time.Duration) (bool, error) {
	return false, ErrDown
}

// Renew fails.
func (Down) Renew(context.Context, string, string, time.Duration) (bool, error) {
	return false, ErrDown
}

// Release fails.
func (Down) Release(context.Context, string, string) error { return ErrDown }

// IndexAdd fails.
func (Down) IndexAdd(context.Context, string, string, string, time.Duration) error { return ErrDown }

// Index fails.
func (Down) Index(context.Context, string) (map[string]string, error) { return nil, ErrDown }

// IndexRemove fails.
func (Down) IndexRemove(context.Context, string, ...string) error { return ErrDown }
