package proxy

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parjarm/parjarm/internal/redistest"
	"github.com/parjarm/parjarm/store"
)

// waitReadTimeout is the Redis read timeout of the tests that WAIT.
const waitReadTimeout = 2 * time.Second

// haStore returns a Redis store for opts, closed when the test ends.
func haStore(t *testing.T, opts store.RedisOptions) store.Store {
	t.Helper()
	if opts.MinReplicas > 0 {
		// WAIT may block for half the read timeout: on this shared,
		// loaded test machine a replica can take longer than the default
		// 500ms to acknowledge.
		opts.ReadTimeout = waitReadTimeout
	}
	st, err := store.NewRedis(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// A full flow (push 201, authorization with the request_uri, the
// upstream's redirect delivered to the client with its state, the
// request_uri then used up) on Redis Cluster and on Sentinel, with and
// without waiting for a replica.
func TestPARFlowOnRedisClusterAndSentinel(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		store func(t *testing.T) store.Store
	}{
		{"cluster", func(t *testing.T) store.Store {
			return haStore(t, store.RedisOptions{ClusterAddrs: redistest.StartCluster(t, 3).Addrs()})
		}},
		{"cluster, one replica must acknowledge", func(t *testing.T) store.Store {
			return haStore(t, store.RedisOptions{ClusterAddrs: redistest.StartClusterWithReplicas(t, 3, 1).Addrs(), MinReplicas: 1})
		}},
		{"sentinel", func(t *testing.T) store.Store {
			return haStore(t, store.RedisOptions{SentinelMaster: redistest.SentinelMaster, SentinelAddrs: redistest.StartSentinel(t).Addrs()})
		}},
		{"sentinel, one replica must acknowledge", func(t *testing.T) store.Store {
			return haStore(t, store.RedisOptions{SentinelMaster: redistest.SentinelMaster, SentinelAddrs: redistest.StartSentinel(t).Addrs(), MinReplicas: 1})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, harnessOptions{store: tc.store(t)})
			// Several flows, so that on Cluster their keys land on every node.
			for i := range 6 {
				state := fmt.Sprintf("s-%d", i)
				uri := h.mustPush("conf", codeFlow(state))
				q := url.Values{"client_id": {"conf"}, "request_uri": {uri}}
				resp := h.authorize(q)
				resp.Body.Close()
				loc, _ := resp.Location()
				if resp.StatusCode != http.StatusFound || loc == nil || !strings.HasPrefix(loc.String(), redirectURI+"?") {
					t.Fatalf("flow %d: %d %v, want 302 to %s", i, resp.StatusCode, loc, redirectURI)
				}
				if got := loc.Query(); got.Get("code") != "code-123" || got.Get("state") != state || got.Get("iss") != h.issuer() {
					t.Fatalf("flow %d: the client received %v", i, got)
				}
				wantErrorPage(t, h.authorize(q), http.StatusBadRequest, "invalid_request_uri")
			}
		})
	}
}

// failoverRun is what one failover run measured.
type failoverRun struct {
	requests, errors int
	// errorWindow is from the start of the first failed request to the end
	// of the last; recovery from the kill to the end of that last failure.
	errorWindow, recovery time.Duration
	slowest               time.Duration
	// pushed counts the pushes answered 201; lost those whose request the
	// gateway no longer found, at once (half of the pushes are authorized
	// right away) or when redeemed after the stream (the other half).
	pushed, lost int
}

const (
	failoverStream   = 10 * time.Second        // how long the stream runs
	failoverKillAt   = 2 * time.Second         // when the primary is killed
	failoverTick     = 40 * time.Millisecond   // 25 rounds a second, 3 requests each
	failoverSlowest  = 5 * time.Second         // no request may take longer
	failoverMaxError = 15 * time.Second        // bound of the error window
	failoverGrace    = 15 * time.Second        // the stream goes on until it is calm, at most this long
	failoverCalm     = 1500 * time.Millisecond // the stream's last stretch has no error
)

// Under a steady stream of pushes and authorizations the Sentinel primary
// is killed (SIGKILL). The gateway is never restarted. Every failed
// request must be a 503 temporarily_unavailable, answered quickly; the
// stream must succeed again by itself; and every push answered 201 is
// redeemed afterwards. Without MinReplicas a 201 push may be lost (written
// to the primary only, asynchronous replication); the run reports how
// many. With MinReplicas 1 none may be.
func TestSentinelFailoverUnderLoad(t *testing.T) {
	t.Parallel()
	for _, minReplicas := range []int{0, 1} {
		t.Run(fmt.Sprintf("min replicas %d", minReplicas), func(t *testing.T) {
			t.Parallel()
			r := runFailover(t, minReplicas)
			t.Logf("FAILOVER min_replicas=%d: %d requests, %d errors (all 503 temporarily_unavailable), error window %s, recovery %s after the kill, slowest request %s, %d pushes answered 201, %d of them lost",
				minReplicas, r.requests, r.errors, r.errorWindow.Round(time.Millisecond), r.recovery.Round(time.Millisecond), r.slowest.Round(time.Millisecond), r.pushed, r.lost)
			if minReplicas > 0 && r.lost > 0 {
				t.Errorf("%d pushes answered 201 were lost with PARJARM_REDIS_MIN_REPLICAS=%d, want none", r.lost, minReplicas)
			}
		})
	}
}

// outcome is one request of the stream.
type outcome struct {
	start, end time.Time
	ok         bool
	status     int
	code       string
	err        error
}

func runFailover(t *testing.T, minReplicas int) failoverRun {
	// Two replicas: after the failover one is the primary and the other
	// can acknowledge its writes.
	s := redistest.StartSentinelWithReplicas(t, 2)
	s.LogOnFailure(t)
	st := haStore(t, store.RedisOptions{SentinelMaster: redistest.SentinelMaster, SentinelAddrs: s.Addrs(), MinReplicas: minReplicas})
	h := newHarness(t, harnessOptions{store: st})
	c := &http.Client{Timeout: failoverSlowest + time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	parURL := h.endpoints.URL(EndpointPAR)

	var mu sync.Mutex
	var outcomes []outcome
	var kept []string // request_uris answered 201, redeemed after the stream
	pushedInStream, lostInStream := 0, 0
	record := func(o outcome) {
		mu.Lock()
		defer mu.Unlock()
		outcomes = append(outcomes, o)
	}
	push := func(i int) (string, bool) {
		o := outcome{start: time.Now()}
		defer func() { o.end = time.Now(); record(o) }()
		form := codeFlow(fmt.Sprintf("s-%d", i))
		form.Set("client_id", "conf")
		req, _ := http.NewRequest(http.MethodPost, parURL, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("conf", confSecret)
		resp, err := c.Do(req)
		if err != nil {
			o.err = err
			return "", false
		}
		defer resp.Body.Close()
		var body struct {
			RequestURI string `json:"request_uri"`
			Error      string `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		o.status, o.code = resp.StatusCode, body.Error
		o.ok = resp.StatusCode == http.StatusCreated && body.RequestURI != ""
		return body.RequestURI, o.ok
	}
	// authorize reports whether the request_uri was redeemed (302 to the
	// client with the code) and whether it was not found.
	authorize := func(uri string) (redeemed, missing bool) {
		o := outcome{start: time.Now()}
		defer func() { o.end = time.Now(); record(o) }()
		resp, err := c.Get(h.gw.URL + "/authorize?" + url.Values{"client_id": {"conf"}, "request_uri": {uri}}.Encode())
		if err != nil {
			o.err = err
			return false, false
		}
		o.status = resp.StatusCode
		if resp.StatusCode == http.StatusFound {
			resp.Body.Close()
			loc, _ := resp.Location()
			o.ok = loc != nil && strings.HasPrefix(loc.String(), redirectURI+"?") && loc.Query().Get("code") == "code-123"
			return o.ok, false
		}
		_, o.code = oauthErrorPage(t, resp)
		// A 201 push whose request the store no longer has: lost, not an
		// outage answer.
		missing = o.status == http.StatusBadRequest && o.code == "invalid_request_uri"
		o.ok = missing
		return false, missing
	}

	begin := time.Now()
	var killed time.Time
	killAt := time.After(failoverKillAt)
	tick := time.NewTicker(failoverTick)
	defer tick.Stop()
	// lastFailure is when the latest failed request ended.
	lastFailure := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		var last time.Time
		for _, o := range outcomes {
			if !o.ok && o.end.After(last) {
				last = o.end
			}
		}
		return last
	}
	// The stream runs for failoverStream, and on (under load Sentinel may
	// take longer to reattach the replica) until failoverCalm has passed
	// without a failure, failoverGrace at the most: bounded either way.
	for i := 0; ; i++ {
		if el := time.Since(begin); el >= failoverStream+failoverGrace ||
			(el >= failoverStream && time.Since(lastFailure()) >= failoverCalm) {
			break
		}
		select {
		case <-killAt:
			killed = time.Now()
			s.Primary.Stop()
		case <-tick.C:
		}
		if uri, ok := push(2 * i); ok {
			kept = append(kept, uri)
		}
		if uri, ok := push(2*i + 1); ok {
			pushedInStream++
			if _, missing := authorize(uri); missing {
				lostInStream++
			}
		}
	}
	end := time.Now()
	if killed.IsZero() {
		t.Fatal("the stream ended before the primary was killed")
	}

	var r failoverRun
	var firstErr, lastErr time.Time
	for _, o := range outcomes {
		r.requests++
		r.slowest = max(r.slowest, o.end.Sub(o.start))
		if o.ok {
			continue
		}
		r.errors++
		if firstErr.IsZero() || o.start.Before(firstErr) {
			firstErr = o.start
		}
		if o.end.After(lastErr) {
			lastErr = o.end
		}
		if o.err != nil {
			t.Errorf("a request failed without an answer at %s after the kill: %v", o.start.Sub(killed), o.err)
		} else if o.status != http.StatusServiceUnavailable || o.code != "temporarily_unavailable" {
			t.Errorf("a request was answered %d %q at %s after the kill, want 503 temporarily_unavailable", o.status, o.code, o.start.Sub(killed))
		}
	}
	if r.slowest > failoverSlowest {
		t.Errorf("the slowest request took %s, want at most %s", r.slowest, failoverSlowest)
	}
	if r.errors > 0 {
		r.errorWindow = lastErr.Sub(firstErr)
		r.recovery = lastErr.Sub(killed)
		if r.errorWindow > failoverMaxError {
			t.Errorf("errors for %s, want the failover within %s", r.errorWindow, failoverMaxError)
		}
		if end.Sub(lastErr) < failoverCalm {
			t.Errorf("the last error ended %s before the stream did, want a stretch of %s without errors: no recovery", end.Sub(lastErr), failoverCalm)
		}
		if firstErr.Before(killed) {
			t.Errorf("a request failed %s before the primary was killed", killed.Sub(firstErr))
		}
	}
	// Something succeeded after the kill, on the same gateway and client.
	var after int
	for _, o := range outcomes {
		if o.ok && o.start.After(killed) && o.start.After(lastErr) {
			after++
		}
	}
	if after == 0 {
		t.Error("no request succeeded after the failover")
	}

	// Redeem every request_uri answered 201 that the stream kept.
	outcomes = nil
	r.pushed = len(kept) + pushedInStream
	r.lost = lostInStream
	for _, uri := range kept {
		redeemed, missing := authorize(uri)
		switch {
		case missing:
			r.lost++
		case !redeemed:
			t.Errorf("redeeming a pushed request_uri after the failover: %d %q, want 302 or (lost) 400 invalid_request_uri", outcomes[len(outcomes)-1].status, outcomes[len(outcomes)-1].code)
		}
	}
	return r
}
