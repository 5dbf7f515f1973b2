package store

import (
	"testing"
	"time"
)

func TestNewMemoryFillsInDefaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts MemoryOptions
		want int
	}{
		{"zero options hold the default number of entries", MemoryOptions{}, DefaultMaxEntries},
		{"a negative bound means the default", MemoryOptions{MaxEntries: -1}, DefaultMaxEntries},
		{"a positive bound is kept", MemoryOptions{MaxEntries: 7}, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMemory(tc.opts)
			defer m.Close()
			if m.maxEntries != tc.want {
				t.Errorf("maxEntries = %d, want %d", m.maxEntries, tc.want)
			}
			if m.now == nil || time.Since(m.now()) > time.Minute {
				t.Error("the default clock is not time.Now")
			}
		})
	}
}
