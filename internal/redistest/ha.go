package redistest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// haReadyTimeout bounds how long a cluster or a Sentinel setup may take
	// to agree on its topology.
	haReadyTimeout = 20 * time.Second

	// SentinelMaster is the name under which the Sentinels of StartSentinel
	// monitor the primary.
	SentinelMaster = "mymaster"

	// SentinelDownAfter is how long the Sentinels wait before they consider
	// an unanswering primary down (down-after-milliseconds); with the
	// failover timeout it bounds how long a failover takes.
	SentinelDownAfter = time.Second
	// SentinelFailoverTimeout is the Sentinels' failover-timeout.
	SentinelFailoverTimeout = 3 * time.Second
)

// Cluster is a Redis Cluster of real redis-server processes on loopback.
type Cluster struct {
	// Primaries hold the slots, in the order the cluster was created.
	Primaries []*Server
	// Replicas are the replicas redis-cli assigned (none unless asked).
	Replicas []*Server
}

// Addrs returns the primaries' addresses, the seeds a client needs.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Primaries))
	for i, s := range c.Primaries {
		addrs[i] = s.Addr()
	}
	return addrs
}

// StartCluster starts a Redis Cluster of primaries primaries (at least 3,
// Redis's minimum) without replicas and waits until every node reports
// cluster_state:ok.
func StartCluster(t testing.TB, primaries int) *Cluster {
	t.Helper()
	return StartClusterWithReplicas(t, primaries, 0)
}

// StartClusterWithReplicas starts a Redis Cluster of primaries primaries
// with replicas replicas each (`redis-cli --cluster create
// --cluster-replicas`), waits until every node reports cluster_state:ok
// and every replica's link to its primary is up.
func StartClusterWithReplicas(t testing.TB, primaries, replicas int) *Cluster {
	t.Helper()
	if primaries < 3 {
		t.Fatalf("redistest: a Redis Cluster needs at least 3 primaries, got %d", primaries)
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatalf("redistest: redis-cli is not on PATH (it comes with redis-server: `apt-get install -y redis-server`): %v", err)
	}
	nodes := make([]*Server, primaries*(1+replicas))
	for i := range nodes {
		nodes[i] = startWith(t, func(dir string, _ int) ([]string, error) {
			// The cluster bus needs a port of its own; port+10000 may be taken
			// or beyond 65535.
			bus, err := freePort()
			if err != nil {
				return nil, err
			}
			return append(dataArgs[:len(dataArgs):len(dataArgs)],
				"--cluster-enabled", "yes",
				"--cluster-config-file", filepath.Join(dir, "nodes.conf"),
				"--cluster-port", strconv.Itoa(bus),
				"--cluster-node-timeout", "2000",
			), nil
		})
	}
	args := []string{"--cluster", "create"}
	for _, n := range nodes {
		args = append(args, n.Addr())
	}
	args = append(args, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), haReadyTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redistest: redis-cli %s: %v\n%s", strings.Join(args, " "), err, out)
	}

	c := &Cluster{}
	waitFor(t, ctx, "every cluster node reports cluster_state:ok", func() (bool, error) {
		c.Primaries, c.Replicas = nil, nil
		for _, n := range nodes {
			info, err := command(ctx, n.Addr(), "cluster", "info")
			if err != nil {
				return false, err
			}
			if !strings.Contains(info, "cluster_state:ok") {
				return false, fmt.Errorf("%s: %s", n.Addr(), firstLine(info))
			}
			repl, err := command(ctx, n.Addr(), "info", "replication")
			if err != nil {
				return false, err
			}
			switch {
			case strings.Contains(repl, "role:master"):
				c.Primaries = append(c.Primaries, n)
			case strings.Contains(repl, "master_link_status:up"):
				c.Replicas = append(c.Replicas, n)
			default:
				return false, fmt.Errorf("%s: replica link not up yet", n.Addr())
			}
		}
		return true, nil
	})
	if len(c.Primaries) != primaries {
		t.Fatalf("redistest: cluster has %d primaries, want %d", len(c.Primaries), primaries)
	}
	return c
}

// Sentinel is one primary, its replicas and three Sentinels monitoring it
// as SentinelMaster, all real processes on loopback.
type Sentinel struct {
	// Primary is the primary the Sentinels were started with; after a
	// failover another server is the primary.
	Primary *Server
	// Replicas replicate Primary.
	Replicas []*Server
	// Sentinels are the three redis-server --sentinel processes.
	Sentinels []*Server
}

// LogOnFailure makes t log the end of every server's log if it fails.
func (s *Sentinel) LogOnFailure(t testing.TB) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, n := range append(append([]*Server{s.Primary}, s.Replicas...), s.Sentinels...) {
			t.Logf("redis-server %s %s", n.Addr(), n.LogTail())
		}
	})
}

// Addrs returns the Sentinels' addresses.
func (s *Sentinel) Addrs() []string {
	addrs := make([]string, len(s.Sentinels))
	for i, n := range s.Sentinels {
		addrs[i] = n.Addr()
	}
	return addrs
}

// StartSentinel starts a primary, one replica and three Sentinels (quorum
// 2) and waits until every Sentinel knows the replica and the two other
// Sentinels, so that killing the primary (Primary.Stop) fails over.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	return StartSentinelWithReplicas(t, 1)
}

// StartSentinelWithReplicas is StartSentinel with replicas replicas. With
// WAIT-based durability (one replica must acknowledge) a failover needs
// two: the promoted one, and one to acknowledge its writes.
func StartSentinelWithReplicas(t testing.TB, replicas int) *Sentinel {
	t.Helper()
	if replicas < 1 {
		t.Fatalf("redistest: a Sentinel setup needs a replica to fail over to, got %d", replicas)
	}
	ctx, cancel := context.WithTimeout(context.Background(), haReadyTimeout)
	defer cancel()
	s := &Sentinel{Primary: Start(t)}
	for range replicas {
		s.Replicas = append(s.Replicas, startWith(t, func(string, int) ([]string, error) {
			return append(dataArgs[:len(dataArgs):len(dataArgs)], "--replicaof", "127.0.0.1", strconv.Itoa(s.Primary.Port())), nil
		}))
	}
	// A Sentinel learns the replicas from the primary's INFO, which it reads
	// first on connecting and then only every 10 seconds: the replicas must
	// be linked before the Sentinels start.
	waitFor(t, ctx, "every replica is linked to the primary", func() (bool, error) {
		for _, r := range s.Replicas {
			repl, err := command(ctx, r.Addr(), "info", "replication")
			if err != nil {
				return false, err
			}
			if !strings.Contains(repl, "master_link_status:up") {
				return false, fmt.Errorf("%s: link not up", r.Addr())
			}
		}
		return true, nil
	})
	for range 3 {
		s.Sentinels = append(s.Sentinels, startWith(t, func(dir string, _ int) ([]string, error) {
			// Sentinel rewrites its config file, so each has its own.
			conf := filepath.Join(dir, "sentinel.conf")
			m := SentinelMaster
			body := fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 2\n", m, s.Primary.Port()) +
				fmt.Sprintf("sentinel down-after-milliseconds %s %d\n", m, SentinelDownAfter.Milliseconds()) +
				fmt.Sprintf("sentinel failover-timeout %s %d\n", m, SentinelFailoverTimeout.Milliseconds()) +
				fmt.Sprintf("sentinel parallel-syncs %s %d\n", m, replicas)
			if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
				return nil, err
			}
			return []string{conf, "--sentinel"}, nil
		}))
	}
	waitFor(t, ctx, "every Sentinel knows the replicas and the other Sentinels", func() (bool, error) {
		for _, n := range s.Sentinels {
			c := redis.NewSentinelClient(&redis.Options{Addr: n.Addr(), MaxRetries: -1})
			m, err := c.Master(ctx, SentinelMaster).Result()
			_ = c.Close()
			if err != nil {
				return false, err
			}
			if m["num-slaves"] != strconv.Itoa(replicas) || m["num-other-sentinels"] != "2" {
				return false, fmt.Errorf("%s sees %s replicas and %s other sentinels", n.Addr(), m["num-slaves"], m["num-other-sentinels"])
			}
		}
		return true, nil
	})
	return s
}

// MasterAddr returns the primary's address as the first Sentinel reports
// it, which changes after a failover.
func (s *Sentinel) MasterAddr(ctx context.Context) (string, error) {
	c := redis.NewSentinelClient(&redis.Options{Addr: s.Sentinels[0].Addr(), MaxRetries: -1})
	defer c.Close()
	hp, err := c.GetMasterAddrByName(ctx, SentinelMaster).Result()
	if err != nil {
		return "", err
	}
	return hp[0] + ":" + hp[1], nil
}

// command runs one command on addr and returns its reply as text.
func command(ctx context.Context, addr string, args ...any) (string, error) {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: time.Second})
	defer c.Close()
	v, err := c.Do(ctx, args...).Result()
	if err != nil {
		return "", fmt.Errorf("%s: %v: %w", addr, args, err)
	}
	return fmt.Sprint(v), nil
}

// waitFor polls ready until it reports true, failing the test when ctx
// ends first with the last reason it gave.
func waitFor(t testing.TB, ctx context.Context, what string, ready func() (bool, error)) {
	t.Helper()
	for {
		ok, err := ready()
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("redistest: waiting until %s: %v (last: %v)", what, ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(line)
}
