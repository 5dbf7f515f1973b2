package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"
	"time"
)

// window is a Redis restart: from the kill (start) to the moment the new
// server answered (back), plus the grace period (end).
type window struct{ start, back, end time.Time }

// overlaps reports whether [start, end] meets any of the windows.
func overlaps(ws []window, start, end time.Time) bool {
	for _, w := range ws {
		if !end.Before(w.start) && !start.After(w.end) {
			return true
		}
	}
	return false
}

// errorEvent is one failed scenario.
type errorEvent struct {
	scenario   string
	kind       string
	status     int
	hung       bool
	start, end time.Time
}

// scenarioCount is how one scenario fared.
type scenarioCount struct{ ok, failed int }

// report collects a run's results; its methods are safe for concurrent use.
type report struct {
	config     string
	start, end sample
	elapsed    time.Duration
	// goroutineProfile is the top of the gateway's goroutine profile when
	// the run ended with more goroutines than it started with.
	goroutineProfile string

	mu        sync.Mutex
	scenarios map[string]*scenarioCount
	latencies map[string][]time.Duration
	errors    []errorEvent
	windows   []window
	skipped   int
	fails     []string
}

func newReport() *report {
	r := &report{}
	r.reset()
	return r
}

// reset forgets everything counted so far (the warm-up).
func (r *report) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.scenarios = map[string]*scenarioCount{}
	r.latencies = map[string][]time.Duration{}
	r.errors = nil
	r.skipped = 0
}

func (r *report) skip() { r.mu.Lock(); r.skipped++; r.mu.Unlock() }

func (r *report) fail(msg string) { r.mu.Lock(); r.fails = append(r.fails, msg); r.mu.Unlock() }

func (r *report) addWindow(w window) { r.mu.Lock(); r.windows = append(r.windows, w); r.mu.Unlock() }

func (r *report) latency(step string, d time.Duration) {
	r.mu.Lock()
	r.latencies[step] = append(r.latencies[step], d)
	r.mu.Unlock()
}

// scenario records one finished scenario.
func (r *report) scenario(name string, start, end time.Time, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.scenarios[name]
	if c == nil {
		c = &scenarioCount{}
		r.scenarios[name] = c
	}
	if err == nil {
		c.ok++
		return
	}
	c.failed++
	ev := errorEvent{scenario: name, kind: "driver: " + err.Error(), start: start, end: end}
	var f *failure
	if errors.As(err, &f) {
		ev.kind, ev.status, ev.hung = f.kind, f.status, f.hung
	}
	r.errors = append(r.errors, ev)
}

// percentile returns the p-th percentile (0 < p <= 100) of ds by the
// nearest-rank method; ds is sorted in place.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	rank := int(float64(len(ds))*p/100+0.999999999) - 1
	return ds[max(0, min(rank, len(ds)-1))]
}

// tally is the error counts of a run.
type tally struct {
	inWindow, outside map[string]int
	fiveHundreds      int
	hung              int
}

func (r *report) tally() tally {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := tally{inWindow: map[string]int{}, outside: map[string]int{}}
	for _, e := range r.errors {
		if e.status == 500 {
			t.fiveHundreds++
		}
		if e.hung {
			t.hung++
		}
		if overlaps(r.windows, e.start, e.end) {
			t.inWindow[e.scenario+" / "+e.kind]++
		} else {
			t.outside[e.scenario+" / "+e.kind]++
		}
	}
	return t
}

// failures lists why the run failed; empty means it passed.
func (r *report) failures(o options) []string {
	t := r.tally()
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Clone(r.fails)
	if t.fiveHundreds > 0 {
		out = append(out, fmt.Sprintf("%d answers were 500", t.fiveHundreds))
	}
	if t.hung > 0 {
		out = append(out, fmt.Sprintf("%d requests hung past %s", t.hung, o.hang))
	}
	if n := sum(t.outside); n > 0 {
		out = append(out, fmt.Sprintf("%d errors outside the Redis restart windows", n))
	}
	if len(r.windows) != 2 {
		out = append(out, fmt.Sprintf("%d Redis restarts completed, want 2", len(r.windows)))
	}
	if grew := r.end.goroutines - r.start.goroutines; grew > o.goroutineMargin {
		out = append(out, fmt.Sprintf("goroutines grew by %d (from %d to %d) after the run settled, more than %d", grew, r.start.goroutines, r.end.goroutines, o.goroutineMargin))
	}
	for _, name := range []string{scenarioPAR, scenarioJARM, scenarioPass} {
		if c := r.scenarios[name]; c == nil || c.ok == 0 {
			out = append(out, "no "+name+" succeeded")
		}
	}
	return out
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// print writes the report.
func (r *report) print(w io.Writer) {
	t := r.tally()
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(w, "parjarm soak: %s\n", r.config)
	fmt.Fprintf(w, "ran %s\n\n", r.elapsed.Round(100*time.Millisecond))

	fmt.Fprintf(w, "%-14s %9s %9s %9s\n", "scenario", "started", "ok", "failed")
	total := scenarioCount{}
	for _, name := range []string{scenarioPAR, scenarioJARM, scenarioPass} {
		c := r.scenarios[name]
		if c == nil {
			c = &scenarioCount{}
		}
		total.ok += c.ok
		total.failed += c.failed
		fmt.Fprintf(w, "%-14s %9d %9d %9d\n", name, c.ok+c.failed, c.ok, c.failed)
	}
	fmt.Fprintf(w, "%-14s %9d %9d %9d\n", "total", total.ok+total.failed, total.ok, total.failed)
	if r.elapsed > 0 {
		fmt.Fprintf(w, "scenarios started per second: %.1f\n", float64(total.ok+total.failed)/r.elapsed.Seconds())
	}
	fmt.Fprintf(w, "starts skipped (all slots busy): %d\n\n", r.skipped)

	fmt.Fprintf(w, "%-16s %9s %9s %9s %9s\n", "request", "count", "p50", "p99", "max")
	requests := 0
	steps := make([]string, 0, len(r.latencies))
	for s := range r.latencies {
		steps = append(steps, s)
	}
	sort.Strings(steps)
	for _, s := range steps {
		ds := r.latencies[s]
		requests += len(ds)
		fmt.Fprintf(w, "%-16s %9d %9s %9s %9s\n", s, len(ds), round(percentile(ds, 50)), round(percentile(ds, 99)), round(percentile(ds, 100)))
	}
	fmt.Fprintf(w, "%-16s %9d\n\n", "all requests", requests)

	fmt.Fprintf(w, "Redis restarts (killed, answering again; the last failed scenario in the window ended):\n")
	for i, win := range r.windows {
		last := "no failure"
		if l := lastFailure(r.errors, win); !l.IsZero() {
			last = fmt.Sprintf("%s after Redis answered", round(l.Sub(win.back)))
		}
		fmt.Fprintf(w, "  %d: killed %s into the run, answering %s later; %s\n", i+1, round(win.start.Sub(r.start.at)), round(win.back.Sub(win.start)), last)
	}
	printErrors(w, "errors inside the restart windows", t.inWindow)
	printErrors(w, "errors outside the restart windows", t.outside)
	fmt.Fprintf(w, "\nanswers 500: %d, hung requests: %d\n", t.fiveHundreds, t.hung)
	fmt.Fprintf(w, "\n%-12s %12s %12s\n", "gateway", "start", "end")
	fmt.Fprintf(w, "%-12s %9d KiB %9d KiB\n", "RSS", r.start.rssKiB, r.end.rssKiB)
	fmt.Fprintf(w, "%-12s %12d %12d\n", "goroutines", r.start.goroutines, r.end.goroutines)
	if r.goroutineProfile != "" {
		fmt.Fprintf(w, "\ngoroutine profile at the end (top):\n%s\n", r.goroutineProfile)
	}
}

func printErrors(w io.Writer, title string, m map[string]int) {
	fmt.Fprintf(w, "%s: %d\n", title, sum(m))
	kinds := make([]string, 0, len(m))
	for k := range m {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(w, "  %6d  %s\n", m[k], k)
	}
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}

// lastFailure returns when the last failed scenario that met w ended, or
// the zero time.
func lastFailure(errs []errorEvent, w window) time.Time {
	var last time.Time
	for _, e := range errs {
		if overlaps([]window{w}, e.start, e.end) && e.end.After(last) {
			last = e.end
		}
	}
	return last
}
