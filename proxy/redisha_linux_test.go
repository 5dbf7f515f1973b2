package proxy

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parjarm/parjarm/internal/redistest"
	"github.com/parjarm/parjarm/store"
)

// On loopback asynchronous replication keeps up, so the stream of
// TestSentinelFailoverUnderLoad rarely loses anything either way. Here the
// replica lags for sure: it is frozen (SIGSTOP) until the primary drops
// it, pushes are answered, then the primary is killed and the replica,
// thawed, is promoted. Without
// MinReplicas those pushes were answered 201 and are gone; with
// MinReplicas 1 they were answered 503 (no replica acknowledged), so no
// 201 is lost.
func TestSentinelFailoverAfterReplicationLag(t *testing.T) {
	t.Parallel()
	const pushes = 5
	for _, tc := range []struct {
		minReplicas int
		wantStatus  int // of the pushes while the replica is frozen
	}{
		{0, http.StatusCreated},
		{1, http.StatusServiceUnavailable},
	} {
		t.Run(fmt.Sprintf("min replicas %d", tc.minReplicas), func(t *testing.T) {
			t.Parallel()
			s := redistest.StartSentinel(t)
			st := haStore(t, store.RedisOptions{SentinelMaster: redistest.SentinelMaster, SentinelAddrs: s.Addrs(), MinReplicas: tc.minReplicas})
			h := newHarness(t, harnessOptions{store: st})
			replica := s.Replicas[0]

			// The primary drops a replica that sent no acknowledgement for a
			// second; what it writes afterwards never leaves it. (A frozen
			// replica with its link still open would find the writes in its
			// socket buffer when thawed.)
			primary := redis.NewClient(&redis.Options{Addr: s.Primary.Addr()})
			defer primary.Close()
			if err := primary.ConfigSet(t.Context(), "repl-timeout", "1").Err(); err != nil {
				t.Fatal(err)
			}
			if err := replica.Signal(syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(10 * time.Second); ; {
				info, err := primary.Info(t.Context(), "replication").Result()
				if err == nil && strings.Contains(info, "connected_slaves:0") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the primary still has its frozen replica after 10s: %v %q", err, info)
				}
				time.Sleep(50 * time.Millisecond)
			}
			var answered201 []string
			for i := range pushes {
				resp := h.push("conf", codeFlow(fmt.Sprintf("s-%d", i)))
				if resp.StatusCode == http.StatusCreated {
					var body struct {
						RequestURI string `json:"request_uri"`
					}
					err := json.NewDecoder(resp.Body).Decode(&body)
					resp.Body.Close()
					if err != nil || body.RequestURI == "" {
						t.Fatalf("push %d: 201 without a request_uri: %v", i, err)
					}
					answered201 = append(answered201, body.RequestURI)
					continue
				}
				if status, code := jsonError(t, resp); status != tc.wantStatus || code != "temporarily_unavailable" {
					t.Fatalf("push %d with the replica frozen: %d %q, want %d temporarily_unavailable", i, status, code, tc.wantStatus)
				}
			}
			if tc.wantStatus == http.StatusCreated && len(answered201) != pushes {
				t.Fatalf("%d of %d pushes answered 201 with the replica frozen, want all", len(answered201), pushes)
			}
			s.Primary.Stop()
			if err := replica.Signal(syscall.SIGCONT); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(45 * time.Second) // Sentinel is quick when the machine is quiet (~3 s); bounded when it is not
			for {
				addr, err := s.MasterAddr(t.Context())
				if err == nil && addr == replica.Addr() {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the replica was not promoted within 45s: %q, %v", addr, err)
				}
				time.Sleep(50 * time.Millisecond)
			}

			lost := 0
			for _, uri := range answered201 {
				var status int
				var code string
				// The promoted replica may refuse writes for a moment.
				for retry := time.Now().Add(5 * time.Second); ; {
					resp := h.get("/authorize?" + url.Values{"client_id": {"conf"}, "request_uri": {uri}}.Encode())
					status, code = resp.StatusCode, ""
					if status != http.StatusFound {
						status, code = oauthErrorPage(t, resp)
					} else {
						resp.Body.Close()
					}
					if status != http.StatusServiceUnavailable || time.Now().After(retry) {
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
				switch {
				case status == http.StatusBadRequest && code == "invalid_request_uri":
					lost++
				case status == http.StatusServiceUnavailable && code == "temporarily_unavailable":
					t.Errorf("redeeming after the failover: still 503 after 5s, the gateway did not follow the new primary")
				case status != http.StatusFound:
					t.Errorf("redeeming after the failover: %d %q", status, code)
				}
			}
			t.Logf("replica lag, min_replicas=%d: %d pushes answered 201 while the replica lagged, %d lost in the failover", tc.minReplicas, len(answered201), lost)
			if lost != len(answered201) {
				t.Errorf("%d of %d pushes answered 201 before the failover were lost, want all: the promoted replica never received them", lost, len(answered201))
			}
		})
	}
}
