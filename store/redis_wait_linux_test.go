package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parjarm/parjarm/internal/redistest"
	"github.com/parjarm/parjarm/store"
)

// On Cluster, WAIT has no key and go-redis would send it to any node; the
// store sends it with the write to the key's master. With one shard's
// replica frozen, writes to that shard fail and writes to the others
// succeed, key by key: a WAIT sent elsewhere would get these wrong.
func TestRedisMinReplicasWaitsOnTheNodeThatOwnsTheKey(t *testing.T) {
	c := redistest.StartClusterWithReplicas(t, 3, 1)
	r, err := store.NewRedis(store.RedisOptions{ClusterAddrs: c.Addrs(), MinReplicas: 1, ReadTimeout: waitReadTimeout})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	defer cc.Close()
	ctx := t.Context()

	frozen := c.Replicas[0]
	info, err := redis.NewClient(&redis.Options{Addr: frozen.Addr()}).Info(ctx, "replication").Result()
	if err != nil {
		t.Fatal(err)
	}
	var masterPort string
	for l := range strings.SplitSeq(info, "\r\n") {
		if v, ok := strings.CutPrefix(l, "master_port:"); ok {
			masterPort = v
		}
	}
	if err := frozen.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer frozen.Signal(syscall.SIGCONT)

	var onFrozen, elsewhere int
	for i := 0; onFrozen < 4 || elsewhere < 4; i++ {
		if i > 200 {
			t.Fatalf("200 keys and still %d on the frozen shard, %d elsewhere", onFrozen, elsewhere)
		}
		key := fmt.Sprintf("parjarm:par:k%d", i)
		master, err := cc.MasterForKey(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		frozenShard := strings.HasSuffix(master.Options().Addr, ":"+masterPort)
		if (frozenShard && onFrozen >= 4) || (!frozenShard && elsewhere >= 4) {
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err = r.Put(wctx, key, []byte("v"), time.Minute)
		cancel()
		if frozenShard {
			onFrozen++
			if !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "0 of 1 replicas acknowledged") {
				t.Errorf("Put %s on the shard whose replica is frozen = %v, want unacknowledged", key, err)
			}
		} else {
			elsewhere++
			if err != nil {
				t.Errorf("Put %s on a shard with a live replica = %v, want nil", key, err)
			}
		}
	}
}
