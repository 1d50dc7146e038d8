package session

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRedisTimeout is RedisOptions.Timeout when unset: with a stalled Redis the gateway gets a 503
// inside Envoy's default ext_authz timeout (200 ms) instead of giving up on authbridge first.
const DefaultRedisTimeout = 150 * time.Millisecond

// commandTimeout is a go-redis hook that gives every command (and pipeline) a deadline of d from its
// start, unless the caller's context ends sooner. With ContextTimeoutEnabled go-redis applies that
// deadline to the pool wait, the dial and every socket read and write, and stops retrying once it has
// passed, so d bounds the whole command however Redis fails (refusing, stalled, or slow).
type commandTimeout time.Duration

func (d commandTimeout) DialHook(next redis.DialHook) redis.DialHook { return next }

func (d commandTimeout) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		ctx, cancel := context.WithTimeout(ctx, time.Duration(d))
		defer cancel()
		return next(ctx, cmd)
	}
}

func (d commandTimeout) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		ctx, cancel := context.WithTimeout(ctx, time.Duration(d))
		defer cancel()
		return next(ctx, cmds)
	}
}
