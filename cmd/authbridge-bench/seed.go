package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/authbridge/authbridge/pkg/session"
)

// seedParallel bounds the seeding writes in flight.
const seedParallel = 16

// seedSessions writes n more sessions into the Redis at redisURL, each a copy of the session behind
// cookie (a real login's, "name=value") under a fresh ticket, and returns their Cookie header values.
// It puts many distinct sessions before one replica (--seed-sessions) without as many logins through
// the provider; they are written as authbridge's callback writes them (sealed, indexed).
func seedSessions(ctx context.Context, redisURL, cookie string, n int) ([]string, error) {
	name, value, _ := strings.Cut(cookie, "=")
	t, err := session.ParseTicket(value)
	if err != nil {
		return nil, fmt.Errorf("seed sessions: the login's cookie: %w", err)
	}
	client, err := session.NewRedisClient(session.RedisOptions{URL: redisURL, Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("seed sessions: %w", err)
	}
	defer client.Close()
	m := session.NewSessions(session.NewRedisStore(client, ""))
	model, err := m.Load(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("seed sessions: read the login's session: %w", err)
	}
	out := make([]string, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(seedParallel)
	for i := range n {
		g.Go(func() error {
			tk, err := session.NewTicket()
			if err != nil {
				return err
			}
			s := *model
			if err := m.Save(gctx, tk, &s, 24*time.Hour); err != nil {
				return err
			}
			out[i] = name + "=" + tk.String()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, errors.Join(errors.New("seed sessions"), err)
	}
	return out, nil
}
