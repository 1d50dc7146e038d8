package session

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

var _ Notifier = (*RedisStore)(nil)

// invalidateChannel is the pub/sub channel (under the store prefix) that carries changed keys.
const invalidateChannel = "invalidate"

// heartbeatReconnect is how long a subscription may go without a heartbeat answer before it is replaced
// by a new connection: a connection that died without a reset (a node gone, a partition) reports no error
// for many minutes, while a new one may reach a Redis that answers again.
const heartbeatReconnect = 3 * time.Second

// The pause between subscription attempts starts at subscribeRetry and doubles up to subscribeRetryMax
// while no attempt gets an answer, so a Redis that is away is not hammered with connections.
const (
	subscribeRetry    = 100 * time.Millisecond
	subscribeRetryMax = time.Second
)

// Publish announces a changed key to every replica subscribed through the same Redis.
func (r *RedisStore) Publish(ctx context.Context, key string) error {
	if err := r.c.Publish(ctx, r.prefix+invalidateChannel, key).Err(); err != nil {
		return fmt.Errorf("redis publish: %w", err)
	}
	return nil
}

// Subscribe listens on the invalidation channel until ctx is done. Every HeartbeatInterval it sends a PING
// down the subscription with its send time as the payload; the PONG comes back on the same connection
// after every message Redis published before it executed the PING, so each PONG confirms the
// subscription as of the time its PING left. A receive or heartbeat error, or no PONG for
// heartbeatReconnect, ends the connection: that is reported as lost, and a new subscription is made.
func (r *RedisStore) Subscribe(ctx context.Context, onKey func(string), onConfirm func(time.Time), onLost func()) error {
	wait := subscribeRetry
	for {
		answered := r.subscribeOnce(ctx, onKey, onConfirm)
		if ctx.Err() != nil {
			return nil
		}
		onLost()
		if answered {
			wait = subscribeRetry
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, subscribeRetryMax)
	}
}

// subscribeOnce runs one subscription until it fails or ctx is done, and reports whether any heartbeat
// was answered.
func (r *RedisStore) subscribeOnce(ctx context.Context, onKey func(string), onConfirm func(time.Time)) (answered bool) {
	ctx, cancel := context.WithCancel(ctx)
	ps := r.c.Subscribe(ctx, r.prefix+invalidateChannel)
	// Receive does not watch ctx while it waits for a message; closing the subscription wakes it.
	context.AfterFunc(ctx, func() { _ = ps.Close() })
	var wg sync.WaitGroup
	defer wg.Wait() // after cancel: the heartbeat ends with ctx
	defer cancel()

	// base carries the monotonic clock: PING payloads are nanoseconds after it, so a PONG's payload turns
	// back into the time its PING left, whatever the wall clock did meanwhile.
	base := time.Now()
	var lastPong atomic.Int64 // when the latest PONG arrived, nanoseconds after base
	wg.Go(func() {
		defer cancel() // a failed heartbeat ends the subscription
		tick := time.NewTicker(HeartbeatInterval)
		defer tick.Stop()
		for {
			if time.Since(base)-time.Duration(lastPong.Load()) > heartbeatReconnect {
				return
			}
			pctx, pcancel := context.WithTimeout(ctx, HeartbeatInterval)
			err := ps.Ping(pctx, strconv.FormatInt(int64(time.Since(base)), 10))
			pcancel()
			if err != nil {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	for {
		msg, err := ps.Receive(ctx)
		if err != nil {
			return
		}
		switch m := msg.(type) {
		case *redis.Message:
			onKey(m.Payload)
		case *redis.Pong:
			sent, err := strconv.ParseInt(m.Payload, 10, 64)
			if err != nil {
				continue // not one of ours
			}
			lastPong.Store(int64(time.Since(base)))
			answered = true
			onConfirm(base.Add(time.Duration(sent)))
		}
	}
}
