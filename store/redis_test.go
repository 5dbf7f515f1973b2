package store_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parjarm/parjarm/internal/redistest"
	"github.com/parjarm/parjarm/store"
	"github.com/parjarm/parjarm/store/storetest"
)

// newRedis returns a Redis store for srv, closed when the test ends.
func newRedis(t testing.TB, srv *redistest.Server) *store.Redis {
	t.Helper()
	r, err := store.NewRedis(store.RedisOptions{URL: srv.URL()})
	if err != nil {
		t.Fatalf("NewRedis = %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestRedisConformance(t *testing.T) {
	srv := redistest.Start(t)
	storetest.Run(t, func(t *testing.T) (store.Store, storetest.FastForward) {
		r, err := store.NewRedis(store.RedisOptions{URL: srv.URL()})
		if err != nil {
			t.Fatalf("NewRedis = %v", err)
		}
		// Redis keeps its own clock: let the time pass.
		return r, time.Sleep
	})
}

// fast is how quickly every call must fail while Redis is down.
const fast = 3 * time.Second

func TestRedisFailsFastDuringAnOutageAndRecoversAfterIt(t *testing.T) {
	srv := redistest.Start(t)
	r := newRedis(t, srv)
	ctx := t.Context()

	// Fill the pool with connections that the outage will break.
	if err := r.Put(ctx, "before", []byte("v"), time.Minute); err != nil {
		t.Fatalf("Put before the outage = %v", err)
	}
	srv.Stop()

	calls := []struct {
		name string
		call func() error
	}{
		{"put", func() error { return r.Put(ctx, "k", []byte("v"), time.Minute) }},
		{"get", func() error { _, err := r.Get(ctx, "before"); return err }},
		{"take", func() error { _, err := r.Take(ctx, "before"); return err }},
		{"put-if-absent", func() error { _, err := r.PutIfAbsent(ctx, "k", []byte("v"), time.Minute); return err }},
		{"ping", func() error { return r.Ping(ctx) }},
	}
	for _, c := range calls {
		t.Run(c.name+" while redis is down fails fast as unavailable", func(t *testing.T) {
			start := time.Now()
			err := c.call()
			if took := time.Since(start); took > fast {
				t.Errorf("%s took %s while Redis was down, want under %s", c.name, took, fast)
			}
			if !errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("%s = %v, want ErrUnavailable", c.name, err)
			}
			if errors.Is(err, store.ErrNotFound) {
				t.Fatalf("%s = %v, an outage must not look like a missing key", c.name, err)
			}
			if !strings.Contains(err.Error(), "refused") {
				t.Errorf("%s = %q, want the cause (connection refused) kept in the message", c.name, err)
			}
		})
	}

	srv.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for r.Ping(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("Ping still fails 10s after Redis came back: %v", r.Ping(ctx))
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, c := range calls {
		t.Run(c.name+" works again on the same client after redis is back", func(t *testing.T) {
			err := c.call()
			if c.name == "get" || c.name == "take" {
				// The restarted server is empty.
				if !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("%s = %v, want ErrNotFound from the empty server", c.name, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s = %v, want nil", c.name, err)
			}
		})
	}
	if err := r.Put(ctx, "after", []byte("v2"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, err := r.Take(ctx, "after"); err != nil || string(v) != "v2" {
		t.Fatalf("Take after recovery = %q, %v; want %q", v, err, "v2")
	}
}

func TestNewRedisDoesNotConnect(t *testing.T) {
	// A port that nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	r, err := store.NewRedis(store.RedisOptions{URL: "redis://" + addr + "/0"})
	if err != nil {
		t.Fatalf("NewRedis with Redis unreachable = %v, want a client", err)
	}
	defer r.Close()
	start := time.Now()
	if err := r.Ping(t.Context()); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Ping = %v, want ErrUnavailable", err)
	}
	if took := time.Since(start); took > fast {
		t.Fatalf("Ping took %s, want under %s", took, fast)
	}
}

func TestRedisThatNeverAnswersTimesOut(t *testing.T) {
	r, err := store.NewRedis(store.RedisOptions{
		URL:         "redis://" + silentServer(t) + "/0",
		ReadTimeout: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	start := time.Now()
	if _, err := r.Get(t.Context(), "k"); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Get = %v, want ErrUnavailable", err)
	}
	if took := time.Since(start); took > fast {
		t.Fatalf("Get from a silent server took %s, want under %s", took, fast)
	}
}

func TestRedisHonoursTheCallersDeadline(t *testing.T) {
	r, err := store.NewRedis(store.RedisOptions{URL: "redis://" + silentServer(t) + "/0"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := r.Ping(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Ping = %v, want ErrUnavailable", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("Ping with a 100ms deadline took %s", took)
	}
}

func TestNewRedisRejectsBadOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts store.RedisOptions
		want []string
	}{
		{"no backend at all is refused", store.RedisOptions{},
			[]string{"needs a URL, Sentinel master and addresses, or Cluster addresses"}},
		{"a URL and cluster addresses together are refused", store.RedisOptions{URL: "redis://h:6379", ClusterAddrs: []string{"a:1"}},
			[]string{"exactly one of URL, Sentinel or Cluster; URL and Cluster are set"}},
		{"sentinel and cluster together are refused", store.RedisOptions{SentinelMaster: "m", SentinelAddrs: []string{"s:1"}, ClusterAddrs: []string{"a:1"}},
			[]string{"Sentinel and Cluster are set"}},
		{"a sentinel master without addresses is refused", store.RedisOptions{SentinelMaster: "m"},
			[]string{"master name is set but no Sentinel addresses"}},
		{"sentinel addresses without a master are refused", store.RedisOptions{SentinelAddrs: []string{"s:1"}},
			[]string{"addresses are set but the master name is empty"}},
		{"a sentinel password without sentinel is refused", store.RedisOptions{URL: "redis://h:6379", SentinelPassword: "x"},
			[]string{"Sentinel password is set without Sentinel"}},
		{"an empty cluster address is refused", store.RedisOptions{ClusterAddrs: []string{"a:1", " "}},
			[]string{"empty address"}},
		{"an http URL is refused", store.RedisOptions{URL: "http://h:6379"},
			[]string{`must start with redis:// or rediss://, got scheme "http"`}},
		{"a URL without a host is refused", store.RedisOptions{URL: "redis:///0"},
			[]string{"has no host"}},
		{"an unknown URL parameter is refused", store.RedisOptions{URL: "redis://h:6379/0?bogus=1"},
			[]string{"store: redis URL:", "bogus"}},
		{"negative timeouts and pool size are refused, all at once", store.RedisOptions{URL: "redis://h:6379", DialTimeout: -1, ReadTimeout: -1, WriteTimeout: -1, PoolSize: -1},
			[]string{"dial timeout must not be negative", "read timeout must not be negative", "write timeout must not be negative", "pool size must not be negative"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := store.NewRedis(tc.opts)
			if err == nil {
				r.Close()
				t.Fatal("NewRedis succeeded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("NewRedis error = %q, want it to say %q", err, w)
				}
			}
		})
	}
}

func TestNewRedisErrorsNeverShowThePassword(t *testing.T) {
	for _, raw := range []string{
		"redis://user:s3cret@h:notaport/0",
		"redis://user:s3cret@h:6379/0?bogus=1",
		"redis://user:s3cret@h:6379/notadb",
		"redis://user:s3cret@h:6379/0\x7f",
	} {
		_, err := store.NewRedis(store.RedisOptions{URL: raw})
		if err == nil {
			t.Fatalf("NewRedis(%q) succeeded, want an error", raw)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("NewRedis error %q shows the password", err)
		}
	}
}

func TestNewRedisBuildsTheClientTheOptionsDescribe(t *testing.T) {
	t.Run("a URL gives a standalone client with the fail-fast defaults", func(t *testing.T) {
		o := standalone(t, store.RedisOptions{URL: "redis://h:6379/2"})
		if o.Addr != "h:6379" || o.DB != 2 {
			t.Errorf("Addr, DB = %q, %d; want h:6379, 2", o.Addr, o.DB)
		}
		if o.DialTimeout != 2*time.Second || o.ReadTimeout != time.Second || o.WriteTimeout != time.Second {
			t.Errorf("timeouts = %s, %s, %s; want 2s, 1s, 1s", o.DialTimeout, o.ReadTimeout, o.WriteTimeout)
		}
		if o.MaxRetries != 0 || o.DialerRetries != 1 {
			t.Errorf("MaxRetries, DialerRetries = %d, %d; want 0 (no retry; go-redis stores -1 as 0), 1", o.MaxRetries, o.DialerRetries)
		}
		if o.TLSConfig != nil {
			t.Error("redis:// got a TLS config")
		}
		if o.Protocol != 2 {
			t.Errorf("Protocol = %d, want 2 (RESP2)", o.Protocol)
		}
	})
	t.Run("a URL may ask for RESP3", func(t *testing.T) {
		if o := standalone(t, store.RedisOptions{URL: "redis://h:6379/0?protocol=3"}); o.Protocol != 3 {
			t.Errorf("Protocol = %d, want 3 as the URL asks", o.Protocol)
		}
	})
	t.Run("the URL's own timeouts hold unless the options set them", func(t *testing.T) {
		o := standalone(t, store.RedisOptions{URL: "redis://h:6379/0?dial_timeout=7s&read_timeout=3s&pool_size=4", WriteTimeout: 5 * time.Second})
		if o.DialTimeout != 7*time.Second || o.ReadTimeout != 3*time.Second || o.WriteTimeout != 5*time.Second || o.PoolSize != 4 {
			t.Errorf("timeouts, pool = %s, %s, %s, %d; want 7s, 3s, 5s, 4", o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolSize)
		}
	})
	t.Run("credentials given apart replace the URL's", func(t *testing.T) {
		o := standalone(t, store.RedisOptions{URL: "redis://u:p@h:6379/0", Username: "gw", Password: "secret"})
		if o.Username != "gw" || o.Password != "secret" {
			t.Errorf("Username, Password = %q, %q; want gw, secret", o.Username, o.Password)
		}
	})
	t.Run("rediss uses TLS 1.2 or later with the host's name", func(t *testing.T) {
		o := standalone(t, store.RedisOptions{URL: "rediss://h:6380/0"})
		if o.TLSConfig == nil || o.TLSConfig.MinVersion < tls.VersionTLS12 || o.TLSConfig.ServerName != "h" {
			t.Errorf("TLSConfig = %+v, want MinVersion TLS 1.2 and ServerName h", o.TLSConfig)
		}
	})
	t.Run("the TLS option upgrades a redis URL", func(t *testing.T) {
		o := standalone(t, store.RedisOptions{URL: "redis://h:6379/0", TLS: true})
		if o.TLSConfig == nil || o.TLSConfig.MinVersion < tls.VersionTLS12 {
			t.Errorf("TLSConfig = %+v, want TLS 1.2 or later", o.TLSConfig)
		}
	})
	t.Run("sentinel gives a failover client", func(t *testing.T) {
		r, err := store.NewRedis(store.RedisOptions{SentinelMaster: "mymaster", SentinelAddrs: []string{"s1:26379", "s2:26379"}, Password: "p", TLS: true})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		c, ok := r.Client().(*redis.Client)
		if !ok {
			t.Fatalf("Client() is %T, want a sentinel-backed *redis.Client", r.Client())
		}
		if o := c.Options(); o.Password != "p" || o.TLSConfig == nil || o.DialTimeout != 2*time.Second || o.Protocol != 2 {
			t.Errorf("options = password %q, TLS %v, dial timeout %s, protocol %d; want p, TLS, 2s, 2", o.Password, o.TLSConfig != nil, o.DialTimeout, o.Protocol)
		}
	})
	t.Run("cluster addresses give a cluster client", func(t *testing.T) {
		r, err := store.NewRedis(store.RedisOptions{ClusterAddrs: []string{"a:7000", "b:7000"}, ReadTimeout: 3 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		c, ok := r.Client().(*redis.ClusterClient)
		if !ok {
			t.Fatalf("Client() is %T, want *redis.ClusterClient", r.Client())
		}
		if o := c.Options(); o.ReadTimeout != 3*time.Second || o.MaxRetries != -1 || o.Protocol != 2 {
			t.Errorf("ReadTimeout, MaxRetries, Protocol = %s, %d, %d; want 3s, -1 (no retry), 2", o.ReadTimeout, o.MaxRetries, o.Protocol)
		}
	})
}

// standalone builds a URL client and returns its options.
func standalone(t *testing.T, opts store.RedisOptions) *redis.Options {
	t.Helper()
	r, err := store.NewRedis(opts)
	if err != nil {
		t.Fatalf("NewRedis = %v", err)
	}
	t.Cleanup(func() { r.Close() })
	c, ok := r.Client().(*redis.Client)
	if !ok {
		t.Fatalf("Client() is %T, want *redis.Client", r.Client())
	}
	return c.Options()
}

// silentServer listens on a loopback port, accepts every connection and
// never answers; it returns its address.
func silentServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}
