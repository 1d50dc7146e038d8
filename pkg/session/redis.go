package session

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrInvalidRedisOptions is wrapped by NewRedisClient's errors for options that cannot work. The
// message names the problem but never repeats a password.
var ErrInvalidRedisOptions = errors.New("session: invalid redis options")

// Client timeouts: a store that does not answer quickly is treated as down (the engine fails closed
// with 503) instead of holding every request in the gateway.
const (
	redisDialTimeout  = 2 * time.Second
	redisRWTimeout    = time.Second
	redisPoolTimeout  = 2 * time.Second
	redisConnIdleTime = 5 * time.Minute
	// redisDialRetries is dial attempts per connection (go-redis tries 5, 100ms apart, and then retries
	// the whole command): one retry covers a blip, and a dead Redis shows up as 503 in well under a second.
	redisDialRetries = 2
)

// DefaultRedisPrefix is the key prefix NewRedisStore uses when given none.
const DefaultRedisPrefix = "authbridge:"

// RedisOptions says how to reach Redis: set URL (standalone) or Addrs (Sentinel, Cluster or one
// standalone server), not both.
type RedisOptions struct {
	// URL is a standalone server as redis://[user[:password]@]host[:port][/db], or rediss:// for TLS.
	// go-redis query parameters (dial_timeout, pool_size, ...) are honoured. Special characters in the
	// password must be percent-encoded.
	URL string
	// Addrs lists host:port addresses: the Sentinels when MasterName is set; otherwise the seed nodes
	// of a Cluster when there are several, or the one standalone server.
	Addrs []string
	// MasterName is the Sentinel master set name. It selects Sentinel mode and requires Addrs.
	MasterName string
	// Username is the ACL user for the Redis servers (not the Sentinels); it overrides the URL's user.
	Username string
	// Password authenticates to the Redis servers (not the Sentinels); it overrides the URL's password.
	Password string
	// DB is the database number for standalone and Sentinel; non-zero overrides the URL's. Cluster
	// has only database 0.
	DB int
	// TLS dials every connection with TLS 1.2+ against the system roots. A rediss:// URL implies it.
	TLS bool
}

// NewRedisClient builds a client from o without connecting: a standalone client for URL or a single
// address, a Sentinel failover client for MasterName, a Cluster client for several addresses. Check
// reachability with Ping.
func NewRedisClient(o RedisOptions) (redis.UniversalClient, error) {
	if o.DB < 0 {
		return nil, fmt.Errorf("%w: db %d is negative", ErrInvalidRedisOptions, o.DB)
	}
	if o.URL != "" {
		if len(o.Addrs) > 0 {
			return nil, fmt.Errorf("%w: set url or addrs, not both", ErrInvalidRedisOptions)
		}
		if o.MasterName != "" {
			return nil, fmt.Errorf("%w: master name needs sentinel addrs, not a url", ErrInvalidRedisOptions)
		}
		opt, err := parseRedisURL(o.URL)
		if err != nil {
			return nil, err
		}
		if o.Username != "" {
			opt.Username = o.Username
		}
		if o.Password != "" {
			opt.Password = o.Password
		}
		if o.DB != 0 {
			opt.DB = o.DB
		}
		if o.TLS && opt.TLSConfig == nil {
			host, _, _ := net.SplitHostPort(opt.Addr)
			opt.TLSConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		}
		opt.DialTimeout = orDefault(opt.DialTimeout, redisDialTimeout)
		opt.ReadTimeout = orDefault(opt.ReadTimeout, redisRWTimeout)
		opt.WriteTimeout = orDefault(opt.WriteTimeout, redisRWTimeout)
		opt.PoolTimeout = orDefault(opt.PoolTimeout, redisPoolTimeout)
		opt.ConnMaxIdleTime = orDefault(opt.ConnMaxIdleTime, redisConnIdleTime)
		if opt.DialerRetries == 0 {
			opt.DialerRetries = redisDialRetries
		}
		return redis.NewClient(opt), nil
	}
	if len(o.Addrs) == 0 {
		return nil, fmt.Errorf("%w: set url or addrs", ErrInvalidRedisOptions)
	}
	for i, a := range o.Addrs {
		if host, port, err := net.SplitHostPort(a); err != nil || host == "" || port == "" {
			return nil, fmt.Errorf("%w: addrs[%d] %q is not host:port", ErrInvalidRedisOptions, i, a)
		}
	}
	var tlsConf *tls.Config
	if o.TLS {
		// ServerName stays empty: crypto/tls takes it from each address it dials.
		tlsConf = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	switch {
	case o.MasterName != "":
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName:      o.MasterName,
			SentinelAddrs:   o.Addrs,
			Username:        o.Username,
			Password:        o.Password,
			DB:              o.DB,
			TLSConfig:       tlsConf,
			DialTimeout:     redisDialTimeout,
			ReadTimeout:     redisRWTimeout,
			WriteTimeout:    redisRWTimeout,
			PoolTimeout:     redisPoolTimeout,
			ConnMaxIdleTime: redisConnIdleTime,
			DialerRetries:   redisDialRetries,
		}), nil
	case len(o.Addrs) > 1:
		if o.DB != 0 {
			return nil, fmt.Errorf("%w: db %d: cluster has only db 0", ErrInvalidRedisOptions, o.DB)
		}
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs:           o.Addrs,
			Username:        o.Username,
			Password:        o.Password,
			TLSConfig:       tlsConf,
			DialTimeout:     redisDialTimeout,
			ReadTimeout:     redisRWTimeout,
			WriteTimeout:    redisRWTimeout,
			PoolTimeout:     redisPoolTimeout,
			ConnMaxIdleTime: redisConnIdleTime,
			DialerRetries:   redisDialRetries,
		}), nil
	default:
		return redis.NewClient(&redis.Options{
			Addr:            o.Addrs[0],
			Username:        o.Username,
			Password:        o.Password,
			DB:              o.DB,
			TLSConfig:       tlsConf,
			DialTimeout:     redisDialTimeout,
			ReadTimeout:     redisRWTimeout,
			WriteTimeout:    redisRWTimeout,
			PoolTimeout:     redisPoolTimeout,
			ConnMaxIdleTime: redisConnIdleTime,
			DialerRetries:   redisDialRetries,
		}), nil
	}
}

// parseRedisURL checks the parts of raw that go-redis would otherwise accept silently or report by
// echoing them, then lets go-redis read the rest. No error includes the user info.
func parseRedisURL(raw string) (*redis.Options, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse's error quotes the whole URL, password included, so it is not passed on.
		return nil, fmt.Errorf("%w: url cannot be parsed (percent-encode special characters in the password)",
			ErrInvalidRedisOptions)
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return nil, fmt.Errorf("%w: url scheme %q, want redis or rediss", ErrInvalidRedisOptions, u.Scheme)
	}
	if u.User == nil && strings.Contains(raw, "@") {
		// An unencoded '/', '?' or '#' in the password moved the '@' out of the authority, so parts of
		// the password now sit in the host, path or query: refuse before anything echoes them.
		return nil, fmt.Errorf("%w: url has '@' outside the user info (percent-encode special characters in the password)",
			ErrInvalidRedisOptions)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("%w: url has no host", ErrInvalidRedisOptions)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("%w: url port %q", ErrInvalidRedisOptions, p)
		}
	}
	if db := strings.TrimPrefix(u.Path, "/"); db != "" {
		if n, err := strconv.Atoi(db); err != nil || n < 0 {
			return nil, fmt.Errorf("%w: url path must be /<db number>", ErrInvalidRedisOptions)
		}
	}
	opt, err := redis.ParseURL(raw)
	if err != nil {
		// What remains for go-redis to reject is the query, which cannot carry the password.
		return nil, fmt.Errorf("%w: url: %w", ErrInvalidRedisOptions, err)
	}
	return opt, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

var _ Store = (*RedisStore)(nil)

// RedisStore is a Store in Redis (standalone, Sentinel or Cluster). Every write sets a TTL, Take is one
// GETDEL (Redis 6.2+), and all keys carry the store's prefix. Errors wrap go-redis errors and never
// include a key or value.
type RedisStore struct {
	c      redis.UniversalClient
	prefix string
}

// NewRedisStore returns a store that keeps records in c under prefix (DefaultRedisPrefix when empty).
// The caller owns c and closes it.
func NewRedisStore(c redis.UniversalClient, prefix string) *RedisStore {
	if prefix == "" {
		prefix = DefaultRedisPrefix
	}
	return &RedisStore{c: c, prefix: prefix}
}

// Get returns the record under key, ErrNotFound if absent or expired, or an error when Redis cannot
// answer.
func (r *RedisStore) Get(ctx context.Context, key string) ([]byte, error) {
	b, err := r.c.Get(ctx, r.prefix+key).Bytes()
	if err != nil {
		if errors.Is(err, redis.Nil) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("redis get: %w", err)
	}
	return b, nil
}

// Put writes val under key with SET PX; ttl must be positive and is rounded up to a millisecond.
func (r *RedisStore) Put(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	if ttl <= 0 {
		// go-redis would read 0 as "no expiry" and -1 as KEEPTTL: neither may reach Redis.
		return fmt.Errorf("redis set: %w", errTTL)
	}
	ttl = max(ttl, time.Millisecond)
	if err := r.c.Set(ctx, r.prefix+key, val, ttl).Err(); err != nil {
		return fmt.Errorf("redis set: %w", err)
	}
	return nil
}

// Take returns the record under key and deletes it with one GETDEL, which Redis runs atomically.
func (r *RedisStore) Take(ctx context.Context, key string) ([]byte, error) {
	b, err := r.c.GetDel(ctx, r.prefix+key).Bytes()
	if err != nil {
		if errors.Is(err, redis.Nil) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("redis getdel: %w", err)
	}
	return b, nil
}

// Delete removes the record under key; an absent key is not an error.
func (r *RedisStore) Delete(ctx context.Context, key string) error {
	if err := r.c.Del(ctx, r.prefix+key).Err(); err != nil {
		return fmt.Errorf("redis del: %w", err)
	}
	return nil
}

// Ping reports whether Redis answers.
func (r *RedisStore) Ping(ctx context.Context) error {
	if err := r.c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis ping: %w", err)
	}
	return nil
}
