package proxy

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parjarm/parjarm/codebind"
	"github.com/parjarm/parjarm/internal/redistest"
	"github.com/parjarm/parjarm/store"
)

// roundTrips counts what the gateway sends to Redis: one call of a single
// command, one pipeline or one transaction is one round trip.
type roundTrips struct {
	mu       sync.Mutex
	trips    int
	commands []string
}

func (c *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

// connSetup are the commands go-redis sends to set up a new connection
// of its pool: they belong to no operation.
var connSetup = map[string]bool{"HELLO": true, "CLIENT": true, "AUTH": true, "SELECT": true}

func (c *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if connSetup[strings.ToUpper(cmd.Name())] {
			return next(ctx, cmd)
		}
		c.mu.Lock()
		c.trips++
		c.commands = append(c.commands, strings.ToUpper(cmd.Name()))
		c.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (c *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if connSetup[strings.ToUpper(cmds[0].Name())] {
			return next(ctx, cmds)
		}
		c.mu.Lock()
		c.trips++
		names := make([]string, len(cmds))
		for i, cmd := range cmds {
			names[i] = strings.ToUpper(cmd.Name())
		}
		c.commands = append(c.commands, "["+strings.Join(names, " ")+"]")
		c.mu.Unlock()
		return next(ctx, cmds)
	}
}

// take returns what was counted since the last take and starts again.
func (c *roundTrips) take() (int, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, cmds := c.trips, c.commands
	c.trips, c.commands = 0, nil
	return n, cmds
}

// commandCalls sums the calls of INFO commandstats over every node, which
// counts what Redis itself executed, scripts' commands included.
func commandCalls(t *testing.T, admins []*redis.Client) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, admin := range admins {
		info, err := admin.Info(context.Background(), "commandstats").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(info, "\n") {
			name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
			if !ok {
				continue
			}
			n, _ := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
			name = strings.TrimPrefix(name, "cmdstat_")
			if name == "config|resetstat" || name == "info" || name == "hello" || strings.HasPrefix(name, "client|") || strings.HasPrefix(name, "cluster|") || name == "readonly" {
				continue
			}
			out[name] += n
		}
	}
	return out
}

// One PAR flow, against a real redis-server, costs at most: push 1 round
// trip, authorization with the request_uri 2, completion 1 (the code's
// binding record at delivery 1 more, to another slot). Both what the
// client sent (a hook on go-redis) and what Redis executed (INFO
// commandstats) are checked.
//
// On Redis Cluster the counts are the same: every key of the flow carries
// one hash tag, so each script runs on one node.
func TestRedisRoundTripsPerFlow(t *testing.T) {
	t.Run("standalone", func(t *testing.T) {
		srv := redistest.Start(t)
		roundTripsPerFlow(t, store.RedisOptions{URL: srv.URL()}, []string{srv.Addr()})
	})
	t.Run("cluster", func(t *testing.T) {
		c := redistest.StartCluster(t, 3)
		roundTripsPerFlow(t, store.RedisOptions{ClusterAddrs: c.Addrs()}, c.Addrs())
	})
}

func roundTripsPerFlow(t *testing.T, opts store.RedisOptions, nodes []string) {
	rs, err := store.NewRedis(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rs.Close() })
	counter := &roundTrips{}
	rs.Client().AddHook(counter)
	var admins []*redis.Client
	for _, addr := range nodes {
		admin := redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() { admin.Close() })
		admins = append(admins, admin)
	}
	ctx := context.Background()
	if err := rs.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	_, _ = counter.take()

	h := newHarness(t, harnessOptions{store: rs, mutate: func(o *Options) {
		o.Codes = codebind.New(rs, time.Minute, nil)
	}})

	// step runs one operation and returns the round trips it cost, as the
	// commands of each, and what Redis executed.
	step := func(run func()) ([]string, map[string]int) {
		t.Helper()
		for _, admin := range admins {
			if err := admin.ConfigResetStat(ctx).Err(); err != nil {
				t.Fatal(err)
			}
		}
		_, _ = counter.take()
		run()
		_, trips := counter.take()
		return trips, commandCalls(t, admins)
	}

	var uri string
	trips, stats := step(func() { uri = h.mustPush("conf", codeFlow("s")) })
	t.Logf("push: %d round trips %v; Redis executed %v", len(trips), trips, stats)
	if len(trips) > 1 {
		t.Errorf("push: %d round trips %v, want 1", len(trips), trips)
	}

	// The upstream answers at once: the authorization request and its
	// completion are one request to the gateway; the round trips come in
	// order: the authorization's, the completion's, the code's record.
	trips, stats = step(func() {
		resp := h.authorize(url.Values{"client_id": {"conf"}, "request_uri": {uri}})
		resp.Body.Close()
		loc, _ := resp.Location()
		if resp.StatusCode != http.StatusFound || loc == nil || loc.Query().Get("code") != "code-123" {
			t.Fatalf("authorization: %d %v, want 302 to the client with the code", resp.StatusCode, loc)
		}
	})
	t.Logf("authorization, completion and the code's record: %d round trips %v; Redis executed %v", len(trips), trips, stats)
	want := []string{
		"GET", "[SET SET]", // authorization: read the pushed request; the transaction and the remembered query
		"EVAL",      // completion: the transaction, the pushed request and the remembered query taken
		"[SET SET]", // the code's binding record and its mark (another slot)
	}
	// A batched operation (store/batch.go; not on Cluster) goes to Redis as
	// a pipeline, of one command when it is alone: the same round trip.
	for i, trip := range trips {
		if strings.HasPrefix(trip, "[") && !strings.Contains(trip, " ") {
			trips[i] = strings.Trim(trip, "[]")
		}
	}
	if strings.Join(trips, " ") != strings.Join(want, " ") {
		t.Errorf("round trips %q, want %q: authorization 2, completion 1, code record 1", trips, want)
	}
	wantStats := map[string]int{"get": 1, "set": 4, "eval": 1, "getdel": 3}
	for cmd, n := range wantStats {
		if stats[cmd] != n {
			t.Errorf("Redis executed %d %s, want %d (all: %v)", stats[cmd], cmd, n, stats)
		}
	}
	if len(stats) != len(wantStats) {
		t.Errorf("Redis executed %v, want only %v", stats, wantStats)
	}
}
