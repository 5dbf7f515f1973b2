package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parjarm/parjarm/bench/internal/procs"
)

func TestScenarioForMixesFourTwoFour(t *testing.T) {
	counts := map[string]int{}
	for i := range 1000 {
		counts[scenarioFor(i)]++
	}
	want := map[string]int{scenarioPAR: 400, scenarioJARM: 200, scenarioPass: 400}
	for k, v := range want {
		if counts[k] != v {
			t.Errorf("%s: %d of 1000, want %d", k, counts[k], v)
		}
	}
}

func TestOverlaps(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	ws := []window{{start: at(10), end: at(17)}, {start: at(20), end: at(27)}}
	for _, tc := range []struct {
		name       string
		start, end int
		want       bool
	}{
		{"before the first window", 1, 9, false},
		{"ending as the window starts", 5, 10, true},
		{"inside a window", 12, 13, true},
		{"straddling a window's end", 16, 18, true},
		{"between the windows", 18, 19, false},
		{"starting as the second ends", 27, 28, true},
		{"after both", 28, 30, false},
		{"spanning both", 1, 30, true},
	} {
		if got := overlaps(ws, at(tc.start), at(tc.end)); got != tc.want {
			t.Errorf("%s: overlaps = %v, want %v", tc.name, got, tc.want)
		}
	}
	if overlaps(nil, at(0), at(100)) {
		t.Error("no windows: overlaps = true")
	}
}

func TestPercentileNearestRank(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		var ds []time.Duration
		for _, n := range ns {
			ds = append(ds, time.Duration(n)*time.Millisecond)
		}
		return ds
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // unsorted: 100..1
	}
	for _, tc := range []struct {
		name string
		ds   []time.Duration
		p    float64
		want time.Duration
	}{
		{"empty", nil, 99, 0},
		{"one value", ms(7), 50, 7 * time.Millisecond},
		{"p50 of 1..100", ms(hundred...), 50, 50 * time.Millisecond},
		{"p99 of 1..100", ms(hundred...), 99, 99 * time.Millisecond},
		{"p100 is the max", ms(hundred...), 100, 100 * time.Millisecond},
		{"p99 of four values is the largest", ms(4, 1, 3, 2), 99, 4 * time.Millisecond},
	} {
		if got := percentile(slices.Clone(tc.ds), tc.p); got != tc.want {
			t.Errorf("%s: percentile = %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestParseGoroutinesAndVmRSS(t *testing.T) {
	metrics := "# HELP go_goroutines Number of goroutines that currently exist.\n# TYPE go_goroutines gauge\ngo_goroutines 42\ngo_threads 9\n"
	if n, err := parseGoroutines([]byte(metrics)); err != nil || n != 42 {
		t.Fatalf("parseGoroutines = %d, %v; want 42", n, err)
	}
	for _, bad := range []string{"go_threads 9\n", "go_goroutines many\n", ""} {
		if _, err := parseGoroutines([]byte(bad)); err == nil {
			t.Errorf("parseGoroutines(%q) = nil error", bad)
		}
	}
	status := "Name:\tparjarm\nVmPeak:\t 1300 kB\nVmRSS:\t   23804 kB\nThreads:\t9\n"
	if n, err := procs.ParseVmRSS([]byte(status)); err != nil || n != 23804 {
		t.Fatalf("ParseVmRSS = %d, %v; want 23804", n, err)
	}
	for _, bad := range []string{"Name:\tx\n", "VmRSS:\t12 MB\n", "VmRSS:\tx kB\n"} {
		if _, err := procs.ParseVmRSS([]byte(bad)); err == nil {
			t.Errorf("procs.ParseVmRSS(%q) = nil error", bad)
		}
	}
}

func TestErrorOfNamesStatusAndOAuthCode(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"a JSON error", 503, `{"error":"temporarily_unavailable","error_description":"try again"}`, "push: 503 temporarily_unavailable"},
		{"an error page", 400, `<dl><dt>error</dt><dd id="error">invalid_request_uri</dd></dl>`, "push: 400 invalid_request_uri"},
		{"no code", 502, `Bad Gateway`, "push: 502"},
		{"a hostile code is defanged", 400, `{"error":"x\n<script>` + strings.Repeat("a", 60) + `"}`, "push: 400 x??script?" + strings.Repeat("a", 30)},
	} {
		f := errorOf("push", tc.status, []byte(tc.body))
		if f.kind != tc.want || f.status != tc.status {
			t.Errorf("%s: errorOf = %q %d, want %q %d", tc.name, f.kind, f.status, tc.want, tc.status)
		}
	}
}

func TestFailuresNameEveryReasonToFail(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	o := options{hang: 10 * time.Second, goroutineMargin: 10}
	healthy := func() *report {
		r := newReport()
		r.start, r.end = sample{goroutines: 10}, sample{goroutines: 12}
		r.addWindow(window{start: at(10), back: at(12), end: at(17)})
		r.addWindow(window{start: at(20), back: at(22), end: at(27)})
		for _, s := range []string{scenarioPAR, scenarioJARM, scenarioPass} {
			r.scenario(s, at(1), at(2), nil)
		}
		// A 503 during a restart is expected.
		r.scenario(scenarioPAR, at(11), at(12), &failure{kind: "push: 503 temporarily_unavailable", status: 503})
		return r
	}
	if f := healthy().failures(o); len(f) != 0 {
		t.Fatalf("a healthy run failed: %v", f)
	}
	for _, tc := range []struct {
		name   string
		change func(r *report)
		want   string
	}{
		{"a 500, even in a window", func(r *report) {
			r.scenario(scenarioJARM, at(12), at(13), &failure{kind: "authorize: 500 server_error", status: 500})
		}, "1 answers were 500"},
		{"a hung request", func(r *report) {
			r.scenario(scenarioPass, at(12), at(22), &failure{kind: "pass-through: hung (timeout)", hung: true})
		}, "1 requests hung past 10s"},
		{"an error outside the windows", func(r *report) {
			r.scenario(scenarioPAR, at(18), at(19), &failure{kind: "push: 503 temporarily_unavailable", status: 503})
		}, "1 errors outside the Redis restart windows"},
		{"goroutine growth", func(r *report) { r.end.goroutines = 21 }, "goroutines grew by 11"},
		{"a missing restart", func(r *report) { r.windows = r.windows[:1] }, "1 Redis restarts completed, want 2"},
		{"a scenario that never succeeded", func(r *report) { delete(r.scenarios, scenarioJARM) }, "no jarm flow succeeded"},
		{"a recorded failure", func(r *report) { r.fail("the gateway logged a panic: x") }, "the gateway logged a panic: x"},
	} {
		r := healthy()
		tc.change(r)
		f := r.failures(o)
		if len(f) != 1 || !strings.HasPrefix(f[0], tc.want) {
			t.Errorf("%s: failures = %q, want one starting %q", tc.name, f, tc.want)
		}
	}
}

func FuzzOAuthCode(f *testing.F) {
	f.Add([]byte(`{"error":"invalid_request"}`))
	f.Add([]byte(`<dd id="error">access_denied</dd>`))
	f.Add([]byte(`<dd id="error">unterminated`))
	f.Fuzz(func(t *testing.T, body []byte) {
		code := oauthCode(body)
		if len(code) > 40 {
			t.Fatalf("code of %d bytes", len(code))
		}
		for _, r := range code {
			if !(r == '_' || r == '-' || r == '?' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')) {
				t.Fatalf("code %q holds %q", code, r)
			}
		}
	})
}

func TestLastFailureIsTheLatestEndInTheWindow(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	w := window{start: at(10), back: at(12), end: at(17)}
	errs := []errorEvent{
		{start: at(9), end: at(11)},
		{start: at(12), end: at(14)},
		{start: at(18), end: at(30)}, // after the window
	}
	if got := lastFailure(errs, w); !got.Equal(at(14)) {
		t.Fatalf("lastFailure = %v, want %v", got, at(14))
	}
	if got := lastFailure(errs[2:], w); !got.IsZero() {
		t.Fatalf("lastFailure with no failure in the window = %v, want zero", got)
	}
}
