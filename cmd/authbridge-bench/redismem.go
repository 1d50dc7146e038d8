package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/authbridge/authbridge/pkg/session"
)

// redisWriters bounds the session writes in flight while filling Redis.
const redisWriters = 64

// runRedisSessions is --redis-sessions: it starts a redis-server, writes n sessions of distinct users the
// way a login writes them (sealed record, subject and sid index entries) with Auth0-sized tokens, and
// reports Redis memory per session (INFO used_memory, MEMORY USAGE of one session's keys). Then it gives
// one user perUser sessions and times ending them all, once by subject (the admin API's sign-out
// everywhere) and once by sid (back-channel logout), with invalidations published as a replica with
// the cache on does.
func runRedisSessions(ctx context.Context, o *options, stdout, log io.Writer) error {
	dir, err := os.MkdirTemp("", "authbridge-bench-")
	if err != nil {
		return fmt.Errorf("create temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	rc, url, err := startRedis(ctx, o.setup.redisBin, dir)
	if err != nil {
		return err
	}
	defer rc.stop()
	client, err := session.NewRedisClient(session.RedisOptions{URL: url, Timeout: 10 * time.Second})
	if err != nil {
		return err
	}
	defer client.Close()
	probe := client.(*redis.Client)
	m := session.NewSessions(session.NewRedisStore(client, ""))
	m.EnableCache(session.CacheOptions{TTL: time.Second}) // so that every end is published, as in production

	n := o.redisSessions
	loadBefore := loadAverage()
	before := infoInt(ctx, probe, "memory", "used_memory")
	fmt.Fprintf(log, "writing %d sessions into Redis\n", n)
	start := time.Now()
	if _, err := writeSessions(ctx, m, n, func(i int) (string, string) {
		return fmt.Sprintf("auth0|user%07d", i), fmt.Sprintf("sid-%07d", i)
	}); err != nil {
		return err
	}
	took := time.Since(start)
	after := infoInt(ctx, probe, "memory", "used_memory")
	sample, err := sampleUsage(ctx, probe)
	if err != nil {
		return err
	}

	ends := make(map[string]time.Duration)
	for _, by := range []string{"subject", "sid"} {
		if _, err := writeSessions(ctx, m, o.userSessions, func(int) (string, string) { return "auth0|busy", "sid-busy" }); err != nil {
			return err
		}
		start := time.Now()
		var ended int
		if by == "subject" {
			ended, err = m.EndSubject(ctx, "auth0|busy")
		} else {
			ended, err = m.EndSID(ctx, "sid-busy")
		}
		if err != nil {
			return err
		}
		if ended != o.userSessions {
			return fmt.Errorf("ending by %s ended %d of %d sessions", by, ended, o.userSessions)
		}
		ends[by] = time.Since(start)
	}

	fmt.Fprintf(stdout, "\n%s\nrun: %d sessions of distinct users written in %s (%.0f/s, %d in flight)\n\n",
		machine(loadBefore), n, took.Round(time.Millisecond), float64(n)/took.Seconds(), redisWriters)
	t := table{header: []string{"measure", "value"}}
	t.add(fmt.Sprintf("used_memory per session (INFO memory, delta ÷ %d)", n), fmt.Sprintf("%d B", (after-before)/int64(n)))
	t.add("used_memory, all sessions", mib(uint64(after-before)))
	for _, s := range sample {
		t.add("MEMORY USAGE, one session's "+s.what, fmt.Sprintf("%d B", s.bytes))
	}
	t.add(fmt.Sprintf("end %d sessions of one user by subject (admin API)", o.userSessions), ends["subject"].Round(time.Millisecond).String())
	t.add(fmt.Sprintf("end %d sessions of one user by sid (back-channel logout)", o.userSessions), ends["sid"].Round(time.Millisecond).String())
	t.print(stdout)
	return nil
}

// writeSessions saves n sessions with Auth0-sized tokens, whose subject and sid come from who(i).
func writeSessions(ctx context.Context, m *session.Sessions, n int, who func(i int) (sub, sid string)) (int, error) {
	access, id := strings.Repeat("a", 900), strings.Repeat("i", 1200) // a JWT access token, an ID token
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(redisWriters)
	now := time.Now()
	for i := range n {
		g.Go(func() error {
			tk, err := session.NewTicket()
			if err != nil {
				return err
			}
			sub, sid := who(i)
			s := &session.Session{Subject: sub, SID: sid, Email: "user@example.com", Groups: []string{"staff"},
				AccessToken: access, RefreshToken: "v1.M" + strings.Repeat("r", 60), IDToken: id,
				Expiry: now.Add(time.Hour), CreatedAt: now, Touched: now}
			return m.Save(gctx, tk, s, 24*time.Hour)
		})
	}
	if err := g.Wait(); err != nil {
		return 0, fmt.Errorf("write sessions: %w", err)
	}
	return n, nil
}

type keyUsage struct {
	what  string
	bytes int64
}

// sampleUsage is MEMORY USAGE of one session record and of one subject and one sid index, found by
// their key prefixes.
func sampleUsage(ctx context.Context, c *redis.Client) ([]keyUsage, error) {
	var out []keyUsage
	for _, k := range []struct{ what, pattern string }{
		{"sealed record", session.DefaultRedisPrefix + "s:*"},
		{"subject index", session.DefaultRedisPrefix + "x:sub:*"},
		{"sid index", session.DefaultRedisPrefix + "x:sid:*"},
	} {
		keys, _, err := c.Scan(ctx, 0, k.pattern, 1000).Result()
		if err != nil || len(keys) == 0 {
			return nil, fmt.Errorf("find a %s: %v", k.what, err)
		}
		n, err := c.MemoryUsage(ctx, keys[0]).Result()
		if err != nil {
			return nil, fmt.Errorf("memory usage: %w", err)
		}
		out = append(out, keyUsage{k.what, n})
	}
	return out, nil
}
