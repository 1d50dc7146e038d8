package main

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisProbe reads a redis-server's CPU time from /proc and its command count from INFO. Its methods
// accept a nil probe and report unknown (-1).
type redisProbe struct {
	pid    int
	client *redis.Client // nil when only the pid is known
}

func newRedisProbe(pid int, addr string) *redisProbe {
	return &redisProbe{pid: pid, client: redis.NewClient(&redis.Options{Addr: addr, PoolSize: 1})}
}

func (p *redisProbe) close() {
	if p != nil && p.client != nil {
		_ = p.client.Close()
	}
}

func (p *redisProbe) cpu() time.Duration {
	if p == nil {
		return -1
	}
	return cpuOrNeg(p.pid)
}

// commands is the server's total_commands_processed (INFO's own call not included), or -1.
func (p *redisProbe) commands(ctx context.Context) int64 {
	if p == nil || p.client == nil {
		return -1
	}
	return infoInt(ctx, p.client, "stats", "total_commands_processed")
}

// infoInt is the integer field name of INFO section, or -1.
func infoInt(ctx context.Context, c *redis.Client, section, name string) int64 {
	info, err := c.Info(ctx, section).Result()
	if err != nil {
		return -1
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				return n
			}
		}
	}
	return -1
}
