package store_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parjarm/parjarm/internal/redistest"
	"github.com/parjarm/parjarm/store"
	"github.com/parjarm/parjarm/store/storetest"
)

// waitReadTimeout is the read timeout of the tests whose replicas must
// acknowledge: WAIT may block for half of it, and on a loaded test machine
// a replica can take longer than the default 500ms.
const waitReadTimeout = 2 * time.Second

// conformance runs the store suite on stores built from opts.
func conformance(t *testing.T, opts store.RedisOptions) {
	t.Helper()
	storetest.Run(t, func(t *testing.T) (store.Store, storetest.FastForward) {
		r, err := store.NewRedis(opts)
		if err != nil {
			t.Fatalf("NewRedis = %v", err)
		}
		return r, time.Sleep
	})
}

// Every store operation is one single-key command, a pipeline that go-redis
// splits by node, or TakeLinked's script on keys that share a hash tag, so
// a Redis Cluster serves them as they are: no script spans two slots.
func TestRedisClusterConformance(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	conformance(t, store.RedisOptions{ClusterAddrs: c.Addrs()})
}

func TestRedisSentinelConformance(t *testing.T) {
	s := redistest.StartSentinel(t)
	conformance(t, store.RedisOptions{SentinelMaster: redistest.SentinelMaster, SentinelAddrs: s.Addrs()})
}

// With MinReplicas every write also waits for a replica: the suite passes
// unchanged on Sentinel and on a Cluster whose primaries have a replica
// each (WAIT goes to the node that owns the key).
func TestRedisConformanceWithMinReplicas(t *testing.T) {
	t.Run("sentinel", func(t *testing.T) {
		t.Parallel()
		s := redistest.StartSentinel(t)
		conformance(t, store.RedisOptions{SentinelMaster: redistest.SentinelMaster, SentinelAddrs: s.Addrs(), MinReplicas: 1, ReadTimeout: waitReadTimeout})
	})
	t.Run("cluster", func(t *testing.T) {
		t.Parallel()
		c := redistest.StartClusterWithReplicas(t, 3, 1)
		conformance(t, store.RedisOptions{ClusterAddrs: c.Addrs(), MinReplicas: 1, ReadTimeout: waitReadTimeout})
	})
}

// unacknowledged checks that err is the ErrUnavailable of a write that too
// few replicas acknowledged.
func unacknowledged(t *testing.T, op string, err error, took time.Duration) {
	t.Helper()
	if !errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("%s = %v, want ErrUnavailable", op, err)
	}
	if !strings.Contains(err.Error(), "0 of 1 replicas acknowledged") {
		t.Errorf("%s = %q, want it to say how many replicas acknowledged", op, err)
	}
	// WAIT blocks for half the read timeout (1s by default), no more.
	if took > store.DefaultRedisReadTimeout {
		t.Errorf("%s took %s, want at most the read timeout %s", op, took, store.DefaultRedisReadTimeout)
	}
}

func TestRedisMinReplicasFailsEveryWriteNoReplicaAcknowledges(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts func(t *testing.T) store.RedisOptions
	}{
		{"standalone without replica", func(t *testing.T) store.RedisOptions {
			return store.RedisOptions{URL: redistest.Start(t).URL(), MinReplicas: 1}
		}},
		{"cluster without replicas", func(t *testing.T) store.RedisOptions {
			return store.RedisOptions{ClusterAddrs: redistest.StartCluster(t, 3).Addrs(), MinReplicas: 1}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts(t)
			plain, err := store.NewRedis(store.RedisOptions{URL: opts.URL, ClusterAddrs: opts.ClusterAddrs})
			if err != nil {
				t.Fatal(err)
			}
			defer plain.Close()
			r, err := store.NewRedis(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			ctx := t.Context()
			if err := plain.Put(ctx, "{k}present", []byte("v"), time.Minute); err != nil {
				t.Fatal(err)
			}

			start := time.Now()
			err = r.Put(ctx, "{k}new", []byte("v"), time.Minute)
			unacknowledged(t, "Put", err, time.Since(start))

			start = time.Now()
			_, err = r.PutIfAbsent(ctx, "{k}jti", []byte("v"), time.Minute)
			unacknowledged(t, "PutIfAbsent", err, time.Since(start))

			start = time.Now()
			_, err = r.Take(ctx, "{k}present")
			unacknowledged(t, "Take", err, time.Since(start))

			start = time.Now()
			err = r.PutAll(ctx, []store.Entry{{Key: "{k}a", Value: []byte("v"), TTL: time.Minute, Links: []string{"{k}b"}}, {Key: "{k}b", Value: []byte("v"), TTL: time.Minute}})
			unacknowledged(t, "PutAll", err, time.Since(start))

			start = time.Now()
			_, _, err = r.TakeLinked(ctx, "{k}a")
			unacknowledged(t, "TakeLinked", err, time.Since(start))
			start = time.Now()
			_, err = r.PutIfAbsentThen(ctx, store.Entry{Key: "{k}mark", Value: []byte("v"), TTL: time.Minute}, []store.Entry{{Key: "{k}c", Value: []byte("v"), TTL: time.Minute}})
			unacknowledged(t, "PutIfAbsentThen", err, time.Since(start))
			if _, _, err := r.TakeLinked(ctx, "{k}missing"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("TakeLinked of a missing key = %v, want ErrNotFound", err)
			}

			// A Take of a missing key is still not found: nothing to replicate
			// changes that answer.
			if _, err := r.Take(ctx, "{k}missing"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Take of a missing key = %v, want ErrNotFound", err)
			}
			// Reads do not wait.
			if _, err := r.Get(ctx, "{k}new"); err != nil {
				t.Errorf("Get = %v: the refused write was applied on the primary, as documented, and reads work", err)
			}
			if err := r.Ping(ctx); err != nil {
				t.Errorf("Ping = %v", err)
			}
		})
	}
}

func TestNewRedisRejectsNegativeMinReplicas(t *testing.T) {
	_, err := store.NewRedis(store.RedisOptions{URL: "redis://h:6379", MinReplicas: -1})
	if err == nil || !strings.Contains(err.Error(), "minimum replicas must not be negative, got -1") {
		t.Fatalf("NewRedis = %v, want the negative minimum refused", err)
	}
}
