package session

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// incrScript: ARGV ttl ms. The TTL is set with the first increment only, so the window is fixed.
var incrScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then
	redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return n`)

// Incr is INCR with the TTL set on the first increment, in one script on one key.
func (r *RedisStore) Incr(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	if ttl <= 0 {
		return 0, fmt.Errorf("redis incr: %w", errTTL)
	}
	n, err := incrScript.Run(ctx, r.c, []string{r.prefix + key}, millis(ttl)).Int64()
	if err != nil {
		return 0, fmt.Errorf("redis incr: %w", err)
	}
	return n, nil
}
