package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authbridge/authbridge/internal/testkit"
)

// system is what a run measures: the authbridge instances, and the reference servers. close stops
// everything the bench started, in reverse order.
type system struct {
	instances   []instance
	redis       *redisProbe // authbridge's redis-server; nil if unknown
	refRedisURL string      // the local redis-server the reference servers GET from
	refRedis    *redisProbe
	refs        []refServer
	closers     []func()
}

// instance is one authbridge under test.
type instance struct {
	label    string   // appended to the row names: "" for authbridge as configured
	httpURL  string   // base URL of the forward-auth listener (/auth); empty when not measured
	grpcAddr string   // gRPC host:port; empty when not measured
	pid      int      // 0 if unknown
	cookies  []string // Cookie header values, one per session
	adminURL string   // admin listener (go_goroutines at /metrics); empty when unknown
}

// labelNoCache marks the rows of the instance that --compare runs with the session cache off, so that
// every check reads Redis as the "+ Redis GET" references do.
const labelNoCache = ", cache off"

type refServer struct {
	kind refKind
	addr string
	pid  int
}

func (s *system) onClose(f func()) { s.closers = append(s.closers, f) }

func (s *system) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

// Timeouts of the start-up.
const (
	redisStartTimeout      = 10 * time.Second
	authbridgeStartTimeout = 90 * time.Second // it retries discovery for a minute
	refStartTimeout        = 15 * time.Second
)

// prepare starts what o asks for: the local setup (unless --target-* is given) and, with --compare,
// the reference servers with a redis-server of their own in target mode.
func prepare(ctx context.Context, o *options, log io.Writer) (_ *system, err error) {
	sys := &system{}
	defer func() {
		if err != nil {
			sys.close()
		}
	}()
	dir, err := os.MkdirTemp("", "authbridge-bench-")
	if err != nil {
		return nil, fmt.Errorf("create temp dir: %w", err)
	}
	sys.onClose(func() { _ = os.RemoveAll(dir) })
	local := o.target.http == "" && o.target.grpc == ""
	if local || o.compare {
		rc, url, err := startRedis(ctx, o.setup.redisBin, dir)
		if err != nil {
			return nil, err
		}
		sys.onClose(rc.stop)
		sys.refRedisURL, sys.refRedis = url, newRedisProbe(rc.pid(), strings.TrimPrefix(url, "redis://"))
		sys.onClose(sys.refRedis.close)
	}
	if local {
		if err := sys.startLocal(ctx, o, dir, log); err != nil {
			return nil, err
		}
	} else {
		sys.instances = []instance{{httpURL: strings.TrimSuffix(o.target.http, "/"), grpcAddr: o.target.grpc,
			pid: o.target.serverPID, cookies: o.target.cookies}}
		if o.target.redisPID > 0 {
			sys.redis = &redisProbe{pid: o.target.redisPID}
		}
	}
	if o.compare || len(o.connections) > 0 {
		if err := sys.startRefs(); err != nil {
			return nil, err
		}
	}
	return sys, nil
}

func (s *system) startRefs() error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary: %w", err)
	}
	for _, k := range refKinds {
		c, err := startChild(k.command, self, []string{k.command, "--redis", s.refRedisURL}, os.Environ())
		if err != nil {
			return err
		}
		s.onClose(c.stop)
		addr, err := c.waitListen(refStartTimeout)
		if err != nil {
			return err
		}
		s.refs = append(s.refs, refServer{kind: k, addr: addr, pid: c.pid()})
	}
	return nil
}

// startRedis runs redis-server without persistence on a free port and waits until it answers as
// this very process (so a server someone else runs on a reused port is never mistaken for ours).
func startRedis(ctx context.Context, bin, dir string) (*child, string, error) {
	var lastErr error
	for range 5 {
		port, err := testkit.FreePort()
		if err != nil {
			return nil, "", err
		}
		c, err := startChild("redis-server", bin, []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no"}, os.Environ())
		if err != nil {
			return nil, "", fmt.Errorf("%w (install the redis-server package, or pass --redis-server)", err)
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if lastErr = waitRedis(ctx, c, addr); lastErr == nil {
			return c, "redis://" + addr, nil
		}
		c.stop()
		if ctx.Err() != nil {
			return nil, "", lastErr
		}
	}
	return nil, "", lastErr
}

func waitRedis(ctx context.Context, c *child, addr string) error {
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second, PoolSize: 1})
	defer rdb.Close()
	want := "process_id:" + strconv.Itoa(c.pid()) + "\r\n"
	deadline := time.Now().Add(redisStartTimeout)
	for {
		if info, err := rdb.Info(ctx, "server").Result(); err == nil && strings.Contains(info, want) {
			return nil
		}
		if c.exited() {
			return c.failed(errors.New("exited before answering"))
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return c.failed(fmt.Errorf("did not answer within %s", redisStartTimeout))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
