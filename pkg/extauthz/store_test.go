package extauthz_test

import (
	"context"
	"errors"
	"time"

	"github.com/authbridge/authbridge/pkg/session"
)

// downStore fails every call, like a Redis that is unreachable.
type downStore struct{ session.Store }

var errDown = errors.New("dial tcp: connection refused")

func (downStore) Get(context.Context, string) ([]byte, error)              { return nil, errDown }
func (downStore) Put(context.Context, string, []byte, time.Duration) error { return errDown }
func (downStore) Take(context.Context, string) ([]byte, error)             { return nil, errDown }
func (downStore) Delete(context.Context, string) error                     { return errDown }
func (downStore) Ping(context.Context) error                               { return errDown }
