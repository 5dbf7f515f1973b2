package main

import (
	"os"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		var ds []time.Duration
		for _, n := range ns {
			ds = append(ds, time.Duration(n)*time.Millisecond)
		}
		return ds
	}
	for _, c := range []struct {
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{nil, 50, 0},
		{ms(7), 99, 7 * time.Millisecond},
		{ms(5, 1, 4, 2, 3), 50, 3 * time.Millisecond},
		{ms(10, 9, 8, 7, 6, 5, 4, 3, 2, 1), 50, 5 * time.Millisecond},
		{ms(10, 9, 8, 7, 6, 5, 4, 3, 2, 1), 99, 10 * time.Millisecond},
		{ms(10, 9, 8, 7, 6, 5, 4, 3, 2, 1), 0, time.Millisecond},
	} {
		if got := percentile(c.in, c.p); got != c.want {
			t.Errorf("percentile(%v, %v) = %v, want %v", c.in, c.p, got, c.want)
		}
	}
}

func TestMergedSumsTheRepetitions(t *testing.T) {
	rs := []result{
		{elapsed: time.Second, latencies: []time.Duration{time.Millisecond, 3 * time.Millisecond}, cpu: 20 * time.Millisecond, maxRSSKiB: 100},
		{elapsed: time.Second, latencies: []time.Duration{2 * time.Millisecond, 4 * time.Millisecond}, cpu: 20 * time.Millisecond, maxRSSKiB: 300},
	}
	rate, p50, p99, rss, cpu := merged(rs)
	if rate != 2 || p50 != 2*time.Millisecond || p99 != 4*time.Millisecond || rss != 300 || cpu != 10*time.Millisecond {
		t.Fatalf("merged = %v/s, p50 %v, p99 %v, RSS %d KiB, CPU/op %v; want 2/s, 2ms, 4ms, 300, 10ms", rate, p50, p99, rss, cpu)
	}
}

// cpuOf reads this very process's CPU time, which a busy loop increases.
func TestCPUOfCountsThisProcess(t *testing.T) {
	pid := []int{os.Getpid()}
	before := cpuOf(pid)
	for end := time.Now().Add(150 * time.Millisecond); time.Now().Before(end); {
	}
	if got := cpuOf(pid) - before; got < 50*time.Millisecond {
		t.Fatalf("CPU time grew by %v over a 150 ms busy loop, want at least 50ms", got)
	}
	if got := cpuOf([]int{-1}); got != 0 {
		t.Fatalf("cpuOf of no process = %v, want 0", got)
	}
}
