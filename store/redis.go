package store

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Defaults of RedisOptions. They keep every call short when Redis is down,
// so a request fails with 503 quickly instead of hanging.
const (
	DefaultRedisDialTimeout  = 2 * time.Second
	DefaultRedisReadTimeout  = time.Second
	DefaultRedisWriteTimeout = time.Second
)

// RedisOptions configures NewRedis. Exactly one of URL, Sentinel
// (SentinelMaster with SentinelAddrs) or ClusterAddrs must be set.
type RedisOptions struct {
	// URL of a standalone server: redis://[user:password@]host:port/db, or
	// rediss:// for TLS. Query parameters understood by go-redis
	// (dial_timeout, pool_size, ...) apply unless the fields below are set.
	URL string
	// SentinelMaster is the name of the master that the Sentinels watch.
	SentinelMaster string
	// SentinelAddrs are host:port addresses of Sentinels.
	SentinelAddrs []string
	// SentinelPassword authenticates to the Sentinels themselves.
	SentinelPassword string
	// ClusterAddrs are host:port seed addresses of a Redis Cluster.
	ClusterAddrs []string
	// Username and Password authenticate to the data nodes (Sentinel's
	// master and replicas, Cluster nodes). With URL, if set, they replace
	// the URL's credentials, so a password can stay out of the URL.
	Username, Password string
	// TLS connects with TLS 1.2 or later, verifying the server certificate
	// against the system roots (Sentinel and Cluster; with URL it upgrades
	// redis:// to TLS, as rediss:// does).
	TLS bool
	// DialTimeout bounds connecting. Zero means DefaultRedisDialTimeout
	// (or the URL's dial_timeout).
	DialTimeout time.Duration
	// ReadTimeout bounds waiting for a reply. Zero means
	// DefaultRedisReadTimeout (or the URL's read_timeout).
	ReadTimeout time.Duration
	// WriteTimeout bounds sending a command. Zero means
	// DefaultRedisWriteTimeout (or the URL's write_timeout).
	WriteTimeout time.Duration
	// PoolSize is the number of connections per node. Zero means the
	// go-redis default, 10 per CPU (or the URL's pool_size).
	PoolSize int
	// MinReplicas, if above zero, makes every write (Put, Take,
	// PutIfAbsent) wait with WAIT until that many replicas acknowledged it,
	// for at most half the read timeout; fewer acknowledgements fail the
	// write with ErrUnavailable. A write so failed may still have been
	// applied on the primary: the caller answered 503, never success, so
	// nothing it confirmed is lost when a replica takes over.
	MinReplicas int
}

// Redis is the Store shared by every gateway replica, backed by a
// standalone, Sentinel-managed or clustered Redis through go-redis. It needs
// Redis 6.2 or later (GETDEL).
//
// Connections are made on demand, not by NewRedis, and made again after an
// outage: the same *Redis serves again once Redis is back. Every failure to
// reach Redis wraps ErrUnavailable.
type Redis struct {
	client redis.UniversalClient
	// batch sends the commands of concurrent operations in shared
	// pipelines (batch.go); nil with minReplicas, whose WAIT must follow
	// the operation's own writes on its connection, and on Cluster.
	batch *batcher
	// minReplicas and waitTimeout are WAIT's arguments; no WAIT when
	// minReplicas is zero.
	minReplicas int
	waitTimeout time.Duration
}

// NewRedis builds the client described by opts without connecting. It
// checks the options and reports every problem found.
func NewRedis(opts RedisOptions) (*Redis, error) {
	errs := opts.problems()
	var urlOpts *redis.Options
	if opts.URL != "" {
		var err error
		if urlOpts, err = parseRedisURL(opts.URL); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	var tlsConfig *tls.Config
	if opts.TLS {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	switch {
	case opts.URL != "":
		o := urlOpts
		if opts.Username != "" {
			o.Username = opts.Username
		}
		if opts.Password != "" {
			o.Password = opts.Password
		}
		if o.TLSConfig == nil {
			o.TLSConfig = tlsConfig
		}
		if o.TLSConfig != nil && o.TLSConfig.MinVersion < tls.VersionTLS12 {
			o.TLSConfig.MinVersion = tls.VersionTLS12
		}
		setDuration(&o.DialTimeout, opts.DialTimeout, DefaultRedisDialTimeout)
		setDuration(&o.ReadTimeout, opts.ReadTimeout, DefaultRedisReadTimeout)
		setDuration(&o.WriteTimeout, opts.WriteTimeout, DefaultRedisWriteTimeout)
		if opts.PoolSize > 0 {
			o.PoolSize = opts.PoolSize
		}
		failFast(&o.MaxRetries, &o.DialerRetries)
		o.ClientName = clientName
		if o.Protocol == 0 {
			o.Protocol = protocol
		}
		o.ContextTimeoutEnabled = true
		o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
		return newRedis(redis.NewClient(o), opts.MinReplicas, o.ReadTimeout), nil

	case opts.SentinelMaster != "":
		o := &redis.FailoverOptions{
			MasterName:       opts.SentinelMaster,
			SentinelAddrs:    opts.SentinelAddrs,
			SentinelPassword: opts.SentinelPassword,
			Username:         opts.Username,
			Password:         opts.Password,
			TLSConfig:        tlsConfig,
			ClientName:       clientName,
			Protocol:         protocol,
			DialTimeout:      orDefault(opts.DialTimeout, DefaultRedisDialTimeout),
			ReadTimeout:      orDefault(opts.ReadTimeout, DefaultRedisReadTimeout),
			WriteTimeout:     orDefault(opts.WriteTimeout, DefaultRedisWriteTimeout),
			PoolSize:         opts.PoolSize,

			ContextTimeoutEnabled: true,
		}
		failFast(&o.MaxRetries, &o.DialerRetries)
		return newRedis(redis.NewFailoverClient(o), opts.MinReplicas, o.ReadTimeout), nil

	default:
		o := &redis.ClusterOptions{
			Addrs:        opts.ClusterAddrs,
			Username:     opts.Username,
			Password:     opts.Password,
			TLSConfig:    tlsConfig,
			ClientName:   clientName,
			Protocol:     protocol,
			DialTimeout:  orDefault(opts.DialTimeout, DefaultRedisDialTimeout),
			ReadTimeout:  orDefault(opts.ReadTimeout, DefaultRedisReadTimeout),
			WriteTimeout: orDefault(opts.WriteTimeout, DefaultRedisWriteTimeout),
			PoolSize:     opts.PoolSize,

			ContextTimeoutEnabled:    true,
			MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
		}
		failFast(&o.MaxRetries, &o.DialerRetries)
		return newRedis(redis.NewClusterClient(o), opts.MinReplicas, o.ReadTimeout), nil
	}
}

// newRedis wraps client. WAIT shares a pipeline's read deadline (the read
// timeout) with the write before it, so it may block for at most half of
// it: its reply then arrives before the deadline.
func newRedis(client redis.UniversalClient, minReplicas int, readTimeout time.Duration) *Redis {
	r := &Redis{client: client, minReplicas: minReplicas, waitTimeout: max(readTimeout/2, time.Millisecond)}
	if _, cluster := client.(*redis.ClusterClient); minReplicas == 0 && !cluster {
		r.batch = newBatcher(client, batchWorkers, readTimeout)
	}
	return r
}

// clientName is what CLIENT LIST shows for the gateway's connections.
const clientName = "parjarm"

// protocol is the RESP version the store speaks (a redis:// URL may ask for
// another with protocol=3). RESP3 buys nothing the store uses (push
// messages, client-side caching, richer reply types), and with it go-redis
// checks every reply for pending push notifications: under the flow load
// about 2% of the gateway's CPU.
const protocol = 2

// problems lists every problem in opts but the URL's syntax.
func (opts RedisOptions) problems() []error {
	var errs []error
	var modes []string
	if opts.URL != "" {
		modes = append(modes, "URL")
	}
	if opts.SentinelMaster != "" || len(opts.SentinelAddrs) > 0 {
		modes = append(modes, "Sentinel")
		if opts.SentinelMaster == "" {
			errs = append(errs, errors.New("store: redis Sentinel addresses are set but the master name is empty"))
		}
		if len(opts.SentinelAddrs) == 0 {
			errs = append(errs, errors.New("store: redis Sentinel master name is set but no Sentinel addresses are"))
		}
	}
	if len(opts.ClusterAddrs) > 0 {
		modes = append(modes, "Cluster")
	}
	switch len(modes) {
	case 0:
		errs = append(errs, errors.New("store: redis needs a URL, Sentinel master and addresses, or Cluster addresses; none is set"))
	case 1:
	default:
		errs = append(errs, fmt.Errorf("store: redis needs exactly one of URL, Sentinel or Cluster; %s are set", strings.Join(modes, " and ")))
	}
	if opts.SentinelPassword != "" && opts.SentinelMaster == "" {
		errs = append(errs, errors.New("store: redis Sentinel password is set without Sentinel"))
	}
	for _, addrs := range [][]string{opts.SentinelAddrs, opts.ClusterAddrs} {
		for _, a := range addrs {
			if strings.TrimSpace(a) == "" {
				errs = append(errs, errors.New("store: redis address list has an empty address"))
			}
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"dial timeout", opts.DialTimeout},
		{"read timeout", opts.ReadTimeout},
		{"write timeout", opts.WriteTimeout},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("store: redis %s must not be negative, got %s", d.name, d.v))
		}
	}
	if opts.PoolSize < 0 {
		errs = append(errs, fmt.Errorf("store: redis pool size must not be negative, got %d", opts.PoolSize))
	}
	if opts.MinReplicas < 0 {
		errs = append(errs, fmt.Errorf("store: redis minimum replicas must not be negative, got %d", opts.MinReplicas))
	}
	return errs
}

// parseRedisURL parses a redis:// or rediss:// URL. Its errors never
// repeat the URL, which may hold a password.
func parseRedisURL(raw string) (*redis.Options, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("store: redis URL is not a URL: %w", err)
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return nil, fmt.Errorf("store: redis URL must start with redis:// or rediss://, got scheme %q", u.Scheme)
	}
	if u.Host == "" {
		return nil, errors.New("store: redis URL has no host")
	}
	o, err := redis.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("store: redis URL: %s", strings.ReplaceAll(err.Error(), raw, "(url)"))
	}
	return o, nil
}

// setDuration sets *dst to v if given, else to def unless the URL set it.
func setDuration(dst *time.Duration, v, def time.Duration) {
	switch {
	case v > 0:
		*dst = v
	case *dst == 0:
		*dst = def
	}
}

func orDefault(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}

// failFast sets, unless already set, no command retry and one dial attempt:
// with Redis down a call fails within about one dial timeout instead of
// go-redis's default of 4 tries of 5 dials each. No retry also matters for
// correctness: go-redis retries a read timeout, and a retried SET NX or
// GETDEL whose first try did reach Redis would report "exists" or "not
// found" for a write that succeeded; without retry the caller gets
// ErrUnavailable instead.
func failFast(maxRetries, dialerRetries *int) {
	if *maxRetries == 0 {
		*maxRetries = -1
	}
	if *dialerRetries == 0 {
		*dialerRetries = 1
	}
}

// run runs the commands queue adds: in a shared pipeline when the store
// batches, else at once on the client, each command a round trip (queue
// then gets the client itself). The error is for the operation as a whole
// (see batcher.do); each command holds its own result or error.
func (r *Redis) run(ctx context.Context, queue func(redis.Cmdable)) error {
	if r.batch != nil {
		return r.batch.do(ctx, queue)
	}
	queue(r.client)
	return nil
}

// pipelined runs the commands queue adds in one pipeline: a shared one
// when the store batches, else its own.
func (r *Redis) pipelined(ctx context.Context, queue func(redis.Cmdable)) error {
	if r.batch != nil {
		return r.batch.do(ctx, queue)
	}
	cmds, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error { queue(p); return nil })
	if err != nil && !anyFailed(cmds) {
		return err
	}
	return nil
}

// Put stores value under key for ttl with SET PX, replacing any earlier
// value.
func (r *Redis) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := checkTTL(ttl); err != nil {
		return err
	}
	if r.minReplicas == 0 {
		var set *redis.StatusCmd
		if err := r.run(ctx, func(c redis.Cmdable) { set = c.Set(ctx, key, value, ttl) }); err != nil {
			return unavailable("SET", err)
		}
		if err := set.Err(); err != nil {
			return unavailable("SET", err)
		}
		return nil
	}
	var set *redis.StatusCmd
	wait, err := r.replicated(ctx, "SET", key, func(p redis.Pipeliner) { set = p.Set(ctx, key, value, ttl) })
	if err != nil {
		return err
	}
	if err := set.Err(); err != nil {
		return unavailable("SET", err)
	}
	return r.acknowledged("SET", wait)
}

// Get returns the value stored under key, or ErrNotFound.
func (r *Redis) Get(ctx context.Context, key string) ([]byte, error) {
	var get *redis.StringCmd
	if err := r.run(ctx, func(c redis.Cmdable) { get = c.Get(ctx, key) }); err != nil {
		return nil, unavailable("GET", err)
	}
	b, err := get.Bytes()
	if err != nil {
		return nil, notFoundOr("GET", err)
	}
	return b, nil
}

// Take atomically returns and deletes the value under key with GETDEL, or
// returns ErrNotFound. One command, not GET then DEL: of concurrent Takes
// exactly one gets the value (RFC 9126, section 7.3, single use).
func (r *Redis) Take(ctx context.Context, key string) ([]byte, error) {
	if r.minReplicas == 0 {
		var del *redis.StringCmd
		if err := r.run(ctx, func(c redis.Cmdable) { del = c.GetDel(ctx, key) }); err != nil {
			return nil, unavailable("GETDEL", err)
		}
		b, err := del.Bytes()
		if err != nil {
			return nil, notFoundOr("GETDEL", err)
		}
		return b, nil
	}
	// The deletion must reach the replicas too: a value deleted on the
	// primary only would be taken a second time after a failover.
	var del *redis.StringCmd
	wait, err := r.replicated(ctx, "GETDEL", key, func(p redis.Pipeliner) { del = p.GetDel(ctx, key) })
	if err != nil {
		return nil, err
	}
	b, err := del.Bytes()
	if err != nil {
		// Not found deleted nothing: there is nothing to replicate.
		return nil, notFoundOr("GETDEL", err)
	}
	if err := r.acknowledged("GETDEL", wait); err != nil {
		return nil, err
	}
	return b, nil
}

// PutIfAbsent stores value under key for ttl with SET NX PX; it reports
// whether it stored it. It backs the jti replay check (RFC 7523, section 3,
// item 7).
func (r *Redis) PutIfAbsent(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := checkTTL(ttl); err != nil {
		return false, err
	}
	if r.minReplicas == 0 {
		var setNX *redis.BoolCmd
		if err := r.run(ctx, func(c redis.Cmdable) { setNX = c.SetNX(ctx, key, value, ttl) }); err != nil {
			return false, unavailable("SET NX", err)
		}
		ok, err := setNX.Result()
		if err != nil {
			return false, unavailable("SET NX", err)
		}
		return ok, nil
	}
	var setNX *redis.BoolCmd
	wait, err := r.replicated(ctx, "SET NX", key, func(p redis.Pipeliner) { setNX = p.SetNX(ctx, key, value, ttl) })
	if err != nil {
		return false, err
	}
	ok, err := setNX.Result()
	if err != nil {
		return false, unavailable("SET NX", err)
	}
	if !ok {
		// The key exists: nothing was written.
		return false, nil
	}
	if err := r.acknowledged("SET NX", wait); err != nil {
		return false, err
	}
	return true, nil
}

// PutAll stores every entry with SET PX in one pipeline: one round trip on
// a standalone server or Sentinel; on Cluster go-redis splits the pipeline
// by node and sends the parts in parallel. With MinReplicas, WAIT follows
// in the same pipeline; on Cluster that needs every key on one node (keys
// that share a tag, see KeyIn), else the entries are written one by one,
// each with its WAIT.
func (r *Redis) PutAll(ctx context.Context, entries []Entry) error {
	if err := checkEntries(entries); err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	var sets []*redis.StatusCmd
	queue := func(p redis.Cmdable) {
		for _, e := range entries {
			sets = append(sets, p.Set(ctx, e.Key, entryValue(e), e.TTL))
		}
	}
	written := func() error {
		for _, c := range sets {
			if err := c.Err(); err != nil {
				return unavailable("SET", err)
			}
		}
		return nil
	}
	if r.minReplicas == 0 {
		if err := r.pipelined(ctx, queue); err != nil {
			return unavailable("SET", err)
		}
		return written()
	}
	if _, ok := r.client.(*redis.ClusterClient); ok && !sameSlot(entries) {
		for _, e := range entries {
			if err := r.Put(ctx, e.Key, entryValue(e), e.TTL); err != nil {
				return err
			}
		}
		return nil
	}
	wait, err := r.replicated(ctx, "SET", entries[0].Key, func(p redis.Pipeliner) { queue(p) })
	if err != nil {
		return err
	}
	if err := written(); err != nil {
		return err
	}
	return r.acknowledged("SET", wait)
}

// sameSlot reports whether every entry's key is in one Cluster slot.
func sameSlot(entries []Entry) bool {
	slot := hashslot(entries[0].Key)
	for _, e := range entries[1:] {
		if hashslot(e.Key) != slot {
			return false
		}
	}
	return true
}

// hashslot is what Redis Cluster hashes of key: its tag's content if it
// has a non-empty one, else the whole key (Redis Cluster specification,
// "Hash tags"). Equal results mean one slot.
func hashslot(key string) string {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			return key[i+1 : i+1+j]
		}
	}
	return key
}

// takeLinkedScript is TakeLinked: GETDEL of KEYS[1] and, if it existed,
// GETDEL of every key its value links to (see Link). It returns nil when
// KEYS[1] is missing, else the value and then each linked key and its
// value (false when missing). One script is atomic, so of two concurrent
// calls only one gets the values. The linked keys are read from the value,
// not declared, so that the caller needs no read before; they carry the
// tag of KEYS[1], which keeps them in its slot on Cluster.
const takeLinkedScript = `
local v = redis.call('GETDEL', KEYS[1])
if not v then return false end
local out = {v}
if string.byte(v, 1) == 76 then
  local nl = string.find(v, '\n', 1, true)
  if nl then
    for k in string.gmatch(string.sub(v, 2, nl - 1), '[^ ]+') do
      out[#out + 1] = k
      out[#out + 1] = redis.call('GETDEL', k)
    end
  end
end
return out
`

// TakeLinked runs takeLinkedScript in one round trip (EVAL, not EVALSHA:
// a NOSCRIPT answer would cost a second one), with WAIT in the same
// pipeline when MinReplicas is set.
func (r *Redis) TakeLinked(ctx context.Context, key string) ([]byte, map[string][]byte, error) {
	var res *redis.Cmd
	if r.minReplicas == 0 {
		if err := r.run(ctx, func(c redis.Cmdable) { res = c.Eval(ctx, takeLinkedScript, []string{key}) }); err != nil {
			return nil, nil, unavailable("EVAL", err)
		}
	} else {
		wait, err := r.replicated(ctx, "EVAL", key, func(p redis.Pipeliner) {
			res = p.Eval(ctx, takeLinkedScript, []string{key})
		})
		if err != nil {
			return nil, nil, err
		}
		if err := res.Err(); err == nil {
			if err := r.acknowledged("EVAL", wait); err != nil {
				return nil, nil, err
			}
		}
	}
	out, err := res.Slice()
	if err != nil {
		return nil, nil, notFoundOr("EVAL", err)
	}
	if len(out) == 0 || len(out)%2 != 1 {
		return nil, nil, unavailable("EVAL", fmt.Errorf("unexpected reply of %d elements", len(out)))
	}
	first, ok := out[0].(string)
	if !ok {
		return nil, nil, unavailable("EVAL", errors.New("unexpected reply"))
	}
	_, value := Unlink([]byte(first))
	linked := make(map[string][]byte, len(out)/2)
	for i := 1; i < len(out); i += 2 {
		k, _ := out[i].(string)
		if v, ok := out[i+1].(string); ok {
			linked[k] = []byte(v)
		}
	}
	return value, linked, nil
}

// putIfAbsentThenScript is PutIfAbsentThen: SET KEYS[1] NX PX and, if it
// was set, SET PX of every other key. ARGV holds each key's value and ttl
// in milliseconds, in KEYS order. It returns 1 if it stored, 0 if the mark
// existed. A script is atomic: no other command sees the mark without the
// entries.
const putIfAbsentThenScript = `
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
for i = 2, #KEYS do
  redis.call('SET', KEYS[i], ARGV[2 * i - 1], 'PX', ARGV[2 * i])
end
return 1
`

// PutIfAbsentThen runs putIfAbsentThenScript in one round trip (EVAL),
// with WAIT in the same pipeline when MinReplicas is set. On Cluster keys
// in several slots cannot share a script: PutIfAbsent of the mark, then
// PutAll of the entries.
func (r *Redis) PutIfAbsentThen(ctx context.Context, mark Entry, then []Entry) (bool, error) {
	all := append([]Entry{mark}, then...)
	if err := checkEntries(all); err != nil {
		return false, err
	}
	if _, ok := r.client.(*redis.ClusterClient); ok && !sameSlot(all) {
		stored, err := r.PutIfAbsent(ctx, mark.Key, entryValue(mark), mark.TTL)
		if err != nil || !stored {
			return false, err
		}
		return true, r.PutAll(ctx, then)
	}
	keys := make([]string, len(all))
	args := make([]any, 0, 2*len(all))
	for i, e := range all {
		keys[i] = e.Key
		args = append(args, entryValue(e), e.TTL.Milliseconds())
	}
	var res *redis.Cmd
	if r.minReplicas == 0 {
		if err := r.run(ctx, func(c redis.Cmdable) { res = c.Eval(ctx, putIfAbsentThenScript, keys, args...) }); err != nil {
			return false, unavailable("EVAL", err)
		}
	} else {
		wait, err := r.replicated(ctx, "EVAL", mark.Key, func(p redis.Pipeliner) {
			res = p.Eval(ctx, putIfAbsentThenScript, keys, args...)
		})
		if err != nil {
			return false, err
		}
		if n, err := res.Int64(); err == nil && n == 1 {
			if err := r.acknowledged("EVAL", wait); err != nil {
				return false, err
			}
		}
	}
	n, err := res.Int64()
	if err != nil {
		return false, unavailable("EVAL", err)
	}
	return n == 1, nil
}

// replicated sends the write that queue adds on key and WAIT in one
// round trip to the node that owns key, and returns WAIT's command for
// acknowledged. On Cluster WAIT has no key, so go-redis would send it to
// any node: the pipeline goes to the key's master instead. The write's own
// result stays in the command queue added; a redis.Nil reply (GETDEL of a
// missing key) is not a failure here.
func (r *Redis) replicated(ctx context.Context, op, key string, queue func(redis.Pipeliner)) (*redis.Cmd, error) {
	var pipe redis.Pipeliner
	if cc, ok := r.client.(*redis.ClusterClient); ok {
		master, err := cc.MasterForKey(ctx, key)
		if err != nil {
			return nil, unavailable(op, err)
		}
		pipe = master.Pipeline()
	} else {
		pipe = r.client.Pipeline()
	}
	queue(pipe)
	wait := pipe.Do(ctx, "wait", r.minReplicas, r.waitTimeout.Milliseconds())
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, unavailable(op, err)
	}
	return wait, nil
}

// acknowledged fails with ErrUnavailable unless WAIT counted at least
// minReplicas replicas that have the write.
func (r *Redis) acknowledged(op string, wait *redis.Cmd) error {
	acked, err := wait.Int64()
	if err != nil {
		return unavailable("WAIT", err)
	}
	if acked < int64(r.minReplicas) {
		return fmt.Errorf("%w: redis %s: %d of %d replicas acknowledged within %s", ErrUnavailable, op, acked, r.minReplicas, r.waitTimeout)
	}
	return nil
}

// Ping sends PING; it fails with ErrUnavailable when Redis cannot be
// reached.
func (r *Redis) Ping(ctx context.Context) error {
	if err := r.client.Ping(ctx).Err(); err != nil {
		return unavailable("PING", err)
	}
	return nil
}

// Close closes every connection of the client.
func (r *Redis) Close() error {
	if r.batch != nil {
		r.batch.close()
	}
	return r.client.Close()
}

// Client returns the underlying go-redis client, for instrumentation hooks.
// Batched operations reach a hook as pipelines of several callers'
// commands, with a context of their own, not a caller's.
func (r *Redis) Client() redis.UniversalClient {
	return r.client
}

// notFoundOr maps redis.Nil to ErrNotFound and anything else to
// ErrUnavailable.
func notFoundOr(op string, err error) error {
	if errors.Is(err, redis.Nil) {
		return ErrNotFound
	}
	return unavailable(op, err)
}

// unavailable wraps err, keeping its message, so callers answer 503.
func unavailable(op string, err error) error {
	return fmt.Errorf("%w: redis %s: %w", ErrUnavailable, op, err)
}

var _ Store = (*Redis)(nil)
