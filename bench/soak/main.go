// Command soak drives a built parjarm gateway at a steady rate for a bounded
// time and reports whether it stayed healthy: it mixes PAR flows, JARM flows
// and pass-through requests against a stand-in upstream, with the gateway on
// a private redis-server that it kills and restarts twice mid-run (at 1/3 and
// 2/3 of the run).
//
// It reports requests by scenario, errors by kind, p50/p99 latencies, and the
// gateway's RSS and goroutines before and after the load, and exits non-zero
// on any 500, any request that hung past -hang, goroutine growth beyond
// -goroutine-margin once the run settles, an error outside a Redis restart
// window, a failed restart, or a panic in the gateway's log.
//
// Everything listens on 127.0.0.1 only, and every process it starts dies with
// it. scripts/soak.sh builds the gateway and runs it.
//
// Usage:
//
//	soak -gateway bin/parjarm [-duration 5m] [-rate 100] [-concurrency 64]
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/parjarm/parjarm/bench/internal/procs"
)

func main() {
	var o options
	flag.StringVar(&o.gateway, "gateway", "bin/parjarm", "path of the built parjarm binary")
	flag.StringVar(&o.redis, "redis-server", "redis-server", "redis-server executable")
	flag.DurationVar(&o.duration, "duration", 5*time.Minute, "how long the load runs")
	flag.Float64Var(&o.rate, "rate", 100, "scenarios started per second")
	flag.IntVar(&o.concurrency, "concurrency", 64, "scenarios in flight at most; a tick that finds them all busy is skipped")
	flag.DurationVar(&o.hang, "hang", 10*time.Second, "a request taking longer counts as hung")
	flag.DurationVar(&o.outage, "outage", 2*time.Second, "how long Redis stays down at each restart")
	flag.DurationVar(&o.grace, "grace", 5*time.Second, "errors this long after Redis is back count as part of its restart window")
	flag.IntVar(&o.goroutineMargin, "goroutine-margin", 10, "goroutines the gateway may hold above its start count once the run settles")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the gateway under load (from its /debug/pprof/profile, before the first Redis restart) to this file")
	flag.Parse()
	if o.duration <= 0 || o.rate <= 0 || o.concurrency <= 0 || o.hang <= 0 {
		fmt.Fprintln(os.Stderr, "soak: -duration, -rate, -concurrency and -hang must be positive")
		os.Exit(2)
	}

	// The whole run is bounded: the load, two restarts, start-up and
	// settling, with room to spare.
	ctx, cancel := context.WithTimeout(context.Background(), o.duration+3*time.Minute)
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	rep, err := soak(ctx, o)
	if rep != nil {
		rep.print(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	if failures := rep.failures(o); len(failures) > 0 {
		fmt.Println()
		for _, f := range failures {
			fmt.Println("FAIL:", f)
		}
		os.Exit(1)
	}
	fmt.Println()
	fmt.Println("PASS")
}

type options struct {
	gateway, redis  string
	duration        time.Duration
	rate            float64
	concurrency     int
	hang            time.Duration
	outage, grace   time.Duration
	goroutineMargin int
	cpuProfile      string
}

// soak sets everything up, runs the load and returns its report. The error
// is for a run that could not be carried out at all.
func soak(ctx context.Context, o options) (*report, error) {
	dir, err := os.MkdirTemp("", "parjarm-soak-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	redis, err := procs.StartRedis(ctx, o.redis, filepath.Join(dir, "redis"))
	if err != nil {
		return nil, err
	}
	defer redis.Stop()

	gw, up, err := startGateway(ctx, o.gateway, dir, redis.Addr)
	if err != nil {
		return nil, err
	}
	defer up.Close()
	defer gw.Stop()

	transport := &http.Transport{MaxIdleConnsPerHost: o.concurrency, IdleConnTimeout: 30 * time.Second}
	d := &driver{
		gw:   gw.Public,
		http: &http.Client{Transport: transport, Timeout: o.hang, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		hang: o.hang,
		rep:  newReport(),
	}
	rep := d.rep
	rep.config = fmt.Sprintf("duration %s, rate %.0f/s, concurrency %d, hang bound %s, Redis down %s at 1/3 and 2/3 (+%s grace)",
		o.duration, o.rate, o.concurrency, o.hang, o.outage, o.grace)

	// Warm up (connections, caches, the first allocations), let it settle,
	// then take the start sample.
	warm := min(5*time.Second, o.duration/6)
	d.run(ctx, warm, o.rate, o.concurrency)
	settle(ctx, transport)
	rep.start, err = sampleOf(ctx, gw, 0, 0)
	if err != nil {
		return rep, fmt.Errorf("start sample: %w", err)
	}
	rep.reset() // the report counts the run proper

	began := time.Now()
	var restarts sync.WaitGroup
	restarts.Go(func() {
		for _, at := range []time.Duration{o.duration / 3, 2 * o.duration / 3} {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Until(began.Add(at))):
			}
			killed, back, err := redis.Restart(ctx, o.outage)
			if err != nil {
				rep.fail(fmt.Sprintf("Redis restart at %s: %v", at, err))
				return
			}
			w := window{start: killed, back: back, end: back.Add(o.grace)}
			rep.addWindow(w)
		}
	})
	if o.cpuProfile != "" {
		// Under steady load, clear of the restarts: from 1/12 of the run
		// for up to 1/6 of it (at most 30s).
		restarts.Go(func() {
			select {
			case <-ctx.Done():
				return
			case <-time.After(o.duration / 12):
			}
			secs := max(1, min(30, int(o.duration.Seconds()/6)))
			if err := gw.CPUProfile(ctx, secs, o.cpuProfile); err != nil {
				rep.fail("CPU profile: " + err.Error())
			}
		})
	}
	d.run(ctx, o.duration, o.rate, o.concurrency)
	restarts.Wait()
	rep.elapsed = time.Since(began)
	if ctx.Err() != nil {
		return rep, fmt.Errorf("the run was cut short: %w", ctx.Err())
	}

	// Settled as at the start, the gateway must be back near its start
	// count; it gets another 15s to get there.
	settle(ctx, transport)
	rep.end, err = sampleOf(ctx, gw, rep.start.goroutines, 15*time.Second)
	if err != nil {
		return rep, fmt.Errorf("end sample: %w", err)
	}
	if rep.end.goroutines > rep.start.goroutines {
		// Where the extra goroutines are, for the report.
		if status, body, err := procs.Get(ctx, gw.Admin+"/debug/pprof/goroutine?debug=1"); err == nil && status == http.StatusOK {
			rep.goroutineProfile = topStacks(body, 5)
		}
	}
	if err := gw.Stop(); err != nil {
		rep.fail(err.Error())
	}
	if p := panics(gw); p != "" {
		rep.fail("the gateway logged a panic: " + strings.TrimSpace(p))
	}
	return rep, nil
}

// settle closes the driver's keep-alive connections and waits for the
// upstream's idle timeout to close the gateway's, so that a goroutine count
// taken next holds no connection goroutines.
func settle(ctx context.Context, t *http.Transport) {
	t.CloseIdleConnections()
	select {
	case <-ctx.Done():
	case <-time.After(upstreamIdleTimeout + time.Second):
	}
}
