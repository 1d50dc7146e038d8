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

const (
	redisConnIdleTime = 5 * time.Minute
	// redisDialRetries is dial attempts per connection (go-redis tries 5, 100ms apart, and then retries
	// the whole command): one retry covers a blip, and a dead Redis shows up as 503 at once.
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
	// TLSConfig, when set, is the TLS client configuration instead (private CA roots, a client
	// certificate, a server name) and implies TLS; for Sentinel it applies to the Sentinels and the
	// servers alike. It is cloned; an empty ServerName becomes the host of each address dialled.
	TLSConfig *tls.Config
	// Timeout bounds every command from start to answer: waiting for a pooled connection, dialing, writing,
	// reading and go-redis's retries together, and it also caps each socket read, write, dial and pool
	// wait. A store that does not answer within it counts as down (the engine fails closed with 503) rather
	// than holding the gateway's request. Default DefaultRedisTimeout; it overrides the URL's
	// dial_timeout, read_timeout, write_timeout and pool_timeout.
	Timeout time.Duration
}

// NewRedisClient builds a client from o without connecting: a standalone client for URL or a single
// address, a Sentinel failover client for MasterName, a Cluster client for several addresses. Check
// reachability with Ping.
func NewRedisClient(o RedisOptions) (redis.UniversalClient, error) {
	if o.DB < 0 {
		return nil, fmt.Errorf("%w: db %d is negative", ErrInvalidRedisOptions, o.DB)
	}
	if o.Timeout < 0 {
		return nil, fmt.Errorf("%w: timeout %s is negative", ErrInvalidRedisOptions, o.Timeout)
	}
	timeout := orDefault(o.Timeout, DefaultRedisTimeout)
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
		if o.TLSConfig != nil || o.TLS && opt.TLSConfig == nil {
			host, _, _ := net.SplitHostPort(opt.Addr)
			opt.TLSConfig = tlsConfig(o.TLSConfig, host)
		}
		opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout, opt.PoolTimeout = timeout, timeout, timeout, timeout
		opt.ContextTimeoutEnabled = true
		opt.ConnMaxIdleTime = orDefault(opt.ConnMaxIdleTime, redisConnIdleTime)
		if opt.DialerRetries == 0 {
			opt.DialerRetries = redisDialRetries
		}
		c := redis.NewClient(opt)
		c.AddHook(commandTimeout(timeout))
		return c, nil
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
	if o.TLS || o.TLSConfig != nil {
		// An empty ServerName stays empty: crypto/tls takes it from each address it dials.
		tlsConf = tlsConfig(o.TLSConfig, "")
	}
	if o.MasterName == "" && len(o.Addrs) > 1 && o.DB != 0 {
		return nil, fmt.Errorf("%w: db %d: cluster has only db 0", ErrInvalidRedisOptions, o.DB)
	}
	// UniversalClient picks the kind the same way the options are documented: Sentinel for a master
	// name, Cluster for several addresses, otherwise one server.
	c := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:                 o.Addrs,
		MasterName:            o.MasterName,
		Username:              o.Username,
		Password:              o.Password,
		DB:                    o.DB,
		TLSConfig:             tlsConf,
		DialTimeout:           timeout,
		ReadTimeout:           timeout,
		WriteTimeout:          timeout,
		PoolTimeout:           timeout,
		ContextTimeoutEnabled: true,
		ConnMaxIdleTime:       redisConnIdleTime,
		DialerRetries:         redisDialRetries,
	})
	c.AddHook(commandTimeout(timeout))
	return c, nil
}

// tlsConfig is a copy of base (nil: TLS 1.2+ against the system roots) whose empty ServerName is
// serverName.
func tlsConfig(base *tls.Config, serverName string) *tls.Config {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if base != nil {
		c = base.Clone()
	}
	if c.ServerName == "" {
		c.ServerName = serverName
	}
	return c
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
	if u.Query().Has("skip_verify") {
		// go-redis would turn certificate checks off; a private CA is trusted with a CA file instead.
		return nil, fmt.Errorf("%w: url option skip_verify is not supported: certificates are always verified (trust a private CA with session.redis.tls.ca_file)",
			ErrInvalidRedisOptions)
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

// RedisStore is a Store in Redis (standalone, Sentinel or Cluster). Every write sets a TTL, each
// compound operation is one single-key Lua script, and all keys carry the
// store's prefix. Errors wrap go-redis errors and never include a key or value.
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

// Each script touches exactly one key, KEYS[1], so Redis Cluster runs it on the node that owns the
// key. They answer 1 or 0, never a Lua false (go-redis would read it as redis.Nil). Script values are
// immutable; Run tries EVALSHA and falls back to EVAL when Redis lost the script (NOSCRIPT).
var (
	// casScript: ARGV old, new, ttl ms. GET of a missing key is false, which equals no string, so a
	// deleted record is never resurrected.
	casScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
	return 1
end
return 0`)
	// renewScript: ARGV owner, ttl ms.
	renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`)
	// releaseScript: ARGV owner.
	releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('DEL', KEYS[1])
end
return 0`)
	// indexAddScript: ARGV member, value, ttl ms. A field holds "<end, unix ms>|<value>"; the script
	// drops the fields that have ended and sets the hash to expire with its longest-lived field. All
	// times are the server's (TIME), so replicas' clocks do not matter. A field without an end (written
	// by a version before per-member ends) keeps its value and the hash's current expiry as a floor.
	// It touches only KEYS[1], so it runs on Redis Cluster.
	indexAddScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local last = now + tonumber(ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], string.format('%d', last) .. '|' .. ARGV[2])
local all = redis.call('HGETALL', KEYS[1])
local dead, legacy = {}, false
for i = 1, #all, 2 do
	local e = tonumber(string.match(all[i + 1], '^(%d+)|'))
	if e == nil then
		legacy = true
	elseif e <= now then
		dead[#dead + 1] = all[i]
	elseif e > last then
		last = e
	end
end
for i = 1, #dead, 1000 do
	redis.call('HDEL', KEYS[1], unpack(dead, i, math.min(i + 999, #dead)))
end
if legacy then
	local pttl = redis.call('PTTL', KEYS[1])
	if pttl > 0 and now + pttl > last then
		last = now + pttl
	end
end
redis.call('PEXPIREAT', KEYS[1], string.format('%d', last))
return 1`)
	// indexScript: the live fields of KEYS[1] as member, value pairs, their ends stripped.
	indexScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local all = redis.call('HGETALL', KEYS[1])
local out = {}
for i = 1, #all, 2 do
	local e, v = string.match(all[i + 1], '^(%d+)|(.*)$')
	if e == nil then
		out[#out + 1] = all[i]
		out[#out + 1] = all[i + 1]
	elseif tonumber(e) > now then
		out[#out + 1] = all[i]
		out[#out + 1] = v
	end
end
return out`)
)

// CompareAndSwap runs one Lua script that compares the whole current value with old and, on a match,
// SETs val with PX ttl. ttl must be positive and is rounded up to a millisecond.
func (r *RedisStore) CompareAndSwap(ctx context.Context, key string, old, val []byte, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, fmt.Errorf("redis compare and swap: %w", errTTL)
	}
	ok, err := casScript.Run(ctx, r.c, []string{r.prefix + key}, old, val, millis(ttl)).Bool()
	if err != nil {
		return false, fmt.Errorf("redis compare and swap: %w", err)
	}
	return ok, nil
}

// Acquire is SET key owner NX PX ttl; ttl must be positive and is rounded up to a millisecond. Like
// SET NX, it reports false to an owner that already holds the lease: that owner calls Renew.
func (r *RedisStore) Acquire(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, fmt.Errorf("redis acquire: %w", errTTL)
	}
	ok, err := r.c.SetNX(ctx, r.prefix+key, owner, time.Duration(millis(ttl))*time.Millisecond).Result()
	if err != nil {
		return false, fmt.Errorf("redis acquire: %w", err)
	}
	return ok, nil
}

// Renew runs one Lua script: PEXPIRE key ttl if GET key equals owner. ttl must be positive.
func (r *RedisStore) Renew(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, fmt.Errorf("redis renew: %w", errTTL)
	}
	ok, err := renewScript.Run(ctx, r.c, []string{r.prefix + key}, owner, millis(ttl)).Bool()
	if err != nil {
		return false, fmt.Errorf("redis renew: %w", err)
	}
	return ok, nil
}

// Release runs one Lua script: DEL key if GET key equals owner.
func (r *RedisStore) Release(ctx context.Context, key, owner string) error {
	if err := releaseScript.Run(ctx, r.c, []string{r.prefix + key}, owner).Err(); err != nil {
		return fmt.Errorf("redis release: %w", err)
	}
	return nil
}

// IndexAdd runs one Lua script (indexAddScript): HSET key member with its end, HDEL the members that
// have ended, PEXPIREAT the longest-lived member's end. ttl must be positive.
func (r *RedisStore) IndexAdd(ctx context.Context, key, member, value string, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("redis index add: %w", errTTL)
	}
	if err := indexAddScript.Run(ctx, r.c, []string{r.prefix + key}, member, value, millis(ttl)).Err(); err != nil {
		return fmt.Errorf("redis index add: %w", err)
	}
	return nil
}

// Index runs one Lua script (indexScript): HGETALL key, less the members that have ended; an absent
// index is an empty map.
func (r *RedisStore) Index(ctx context.Context, key string) (map[string]string, error) {
	kv, err := indexScript.Run(ctx, r.c, []string{r.prefix + key}).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("redis index: %w", err)
	}
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m, nil
}

// IndexRemove is HDEL key members...; Redis deletes a hash left empty.
func (r *RedisStore) IndexRemove(ctx context.Context, key string, members ...string) error {
	if len(members) == 0 {
		return nil // HDEL needs at least one field
	}
	if err := r.c.HDel(ctx, r.prefix+key, members...).Err(); err != nil {
		return fmt.Errorf("redis hdel: %w", err)
	}
	return nil
}

// millis is ttl in whole milliseconds, rounded up so a positive ttl never becomes 0 (no expiry).
func millis(ttl time.Duration) int64 {
	return int64((ttl + time.Millisecond - 1) / time.Millisecond)
}
