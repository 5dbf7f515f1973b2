package redistest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestStartClusterServesEverySlot(t *testing.T) {
	c := StartCluster(t, 3)
	if len(c.Primaries) != 3 || len(c.Replicas) != 0 {
		t.Fatalf("cluster has %d primaries and %d replicas, want 3 and 0", len(c.Primaries), len(c.Replicas))
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	defer cc.Close()
	ctx := t.Context()
	// Keys spread over all three primaries.
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		if err := cc.Set(ctx, k, k, time.Minute).Err(); err != nil {
			t.Fatalf("SET %s on the cluster: %v", k, err)
		}
	}
	for _, p := range c.Primaries {
		n, err := command(ctx, p.Addr(), "dbsize")
		if err != nil {
			t.Fatal(err)
		}
		if n == "0" {
			t.Errorf("primary %s holds none of 8 keys: the slots are not spread", p.Addr())
		}
	}
}

func TestStartSentinelFailsOverWhenThePrimaryIsKilled(t *testing.T) {
	began := time.Now()
	s := StartSentinel(t)
	t.Logf("setup took %s", time.Since(began))
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	if got, err := s.MasterAddr(ctx); err != nil || got != s.Primary.Addr() {
		t.Fatalf("MasterAddr = %q, %v; want %q", got, err, s.Primary.Addr())
	}
	killed := time.Now()
	s.Primary.Stop()
	defer func() { t.Logf("failover took %s", time.Since(killed)) }()
	waitFor(t, ctx, "the Sentinels promote the replica", func() (bool, error) {
		got, err := s.MasterAddr(ctx)
		return got == s.Replicas[0].Addr(), err
	})
	repl, err := command(ctx, s.Replicas[0].Addr(), "info", "replication")
	if err != nil || !strings.Contains(repl, "role:master") {
		t.Fatalf("the promoted replica reports %q, %v; want role:master", firstLine(repl), err)
	}
}
