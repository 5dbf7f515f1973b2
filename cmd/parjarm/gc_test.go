package main

import (
	"runtime/debug"
	"testing"
)

func TestTuneGCDefaultsTo400UnlessGOGCIsSet(t *testing.T) {
	before := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(before) })

	if got := tuneGC(func(string) string { return "" }); got != defaultGCPercent {
		t.Fatalf("tuneGC without GOGC = %d, want %d", got, defaultGCPercent)
	}
	if p := debug.SetGCPercent(100); p != 400 {
		t.Fatalf("GC percent after tuneGC without GOGC = %d, want 400", p)
	}
	// With GOGC set, what the runtime took from it (here 100) stays.
	env := map[string]string{"GOGC": "100"}
	if got := tuneGC(func(k string) string { return env[k] }); got != 100 {
		t.Fatalf("tuneGC with GOGC=100 = %d, want 100 (left as the runtime set it)", got)
	}
	if p := debug.SetGCPercent(100); p != 100 {
		t.Fatalf("GC percent after tuneGC with GOGC set = %d, want 100", p)
	}
}
