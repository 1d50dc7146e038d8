package session

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

var _ Notifier = (*RedisStore)(nil)

// invalidateChannel is the pub/sub channel (under the store prefix) that carries changed keys.
const invalidateChannel = "invalidate"

// Publish announces a changed key to every replica subscribed through the same Redis.
func (r *RedisStore) Publish(ctx context.Context, key string) error {
	if err := r.c.Publish(ctx, r.prefix+invalidateChannel, key).Err(); err != nil {
		return fmt.Errorf("redis publish: %w", err)
	}
	return nil
}

// Subscribe listens on the invalidation channel until ctx is done. It reports live only while it is
// subscribed: on any receive error it reports not live, and live again once go-redis has reconnected and
// resubscribed (a new subscription confirmation), since messages sent in between are lost.
func (r *RedisStore) Subscribe(ctx context.Context, onKey func(string), onLive func(bool)) error {
	ps := r.c.Subscribe(ctx, r.prefix+invalidateChannel)
	defer ps.Close()
	// Receive does not watch ctx while it waits for a message; closing the subscription wakes it.
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer stop()
	for {
		msg, err := ps.Receive(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			onLive(false)
			select { // go-redis reconnects on the next Receive; do not spin while Redis is away
			case <-ctx.Done():
				return nil
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				onLive(true)
			}
		case *redis.Message:
			onKey(m.Payload)
		case *redis.Pong:
		}
	}
}
