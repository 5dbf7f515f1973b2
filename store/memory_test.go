package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parjarm/parjarm/store"
	"github.com/parjarm/parjarm/store/storetest"
)

// fakeClock is an injected clock that moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newMemory returns a Memory on a fake clock whose janitor never runs
// during the test, closed when the test ends.
func newMemory(t *testing.T, maxEntries int) (*store.Memory, *fakeClock) {
	t.Helper()
	c := newFakeClock()
	m := store.NewMemory(store.MemoryOptions{MaxEntries: maxEntries, Now: c.Now, SweepInterval: time.Hour})
	t.Cleanup(func() { m.Close() })
	return m, c
}

func TestMemoryConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (store.Store, storetest.FastForward) {
		c := newFakeClock()
		return store.NewMemory(store.MemoryOptions{Now: c.Now}), c.Advance
	})
}

func TestMemoryEntryExpiresExactlyAtItsTTL(t *testing.T) {
	m, c := newMemory(t, 0)
	ctx := t.Context()
	if err := m.Put(ctx, "k", []byte("v"), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	c.Advance(10*time.Second - time.Nanosecond)
	if _, err := m.Get(ctx, "k"); err != nil {
		t.Fatalf("Get 1ns before expiry = %v, want the value", err)
	}
	c.Advance(time.Nanosecond)
	if _, err := m.Get(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get at expiry = %v, want ErrNotFound", err)
	}
}

func TestMemoryFullOfLiveEntriesRefusesNewKeys(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		write func(m *store.Memory) error
	}{
		{"a put of a new key is refused", func(m *store.Memory) error {
			return m.Put(ctx, "new", []byte("v"), time.Minute)
		}},
		{"a put-if-absent of a new key is refused, not reported as present", func(m *store.Memory) error {
			ok, err := m.PutIfAbsent(ctx, "new", []byte("v"), time.Minute)
			if ok {
				return errors.New("PutIfAbsent stored into a full store")
			}
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := newMemory(t, 3)
			for i := range 3 {
				if err := m.Put(ctx, fmt.Sprint("live", i), []byte("v"), time.Minute); err != nil {
					t.Fatal(err)
				}
			}
			err := tc.write(m)
			if !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "memory store full") {
				t.Fatalf("write into a full store = %v, want ErrUnavailable saying memory store full", err)
			}
			for i := range 3 {
				if _, err := m.Get(ctx, fmt.Sprint("live", i)); err != nil {
					t.Fatalf("live entry %d after the refused write: %v; live entries must never be evicted", i, err)
				}
			}
			if _, err := m.Get(ctx, "new"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("Get(new) = %v, want ErrNotFound", err)
			}
		})
	}
}

func TestMemoryFullStillReplacesExistingKeysAndTakeFreesRoom(t *testing.T) {
	ctx := t.Context()
	m, _ := newMemory(t, 2)
	for _, k := range []string{"a", "b"} {
		if err := m.Put(ctx, k, []byte("v"), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Put(ctx, "a", []byte("v2"), time.Minute); err != nil {
		t.Fatalf("replacing a key in a full store = %v, want nil", err)
	}
	if _, err := m.Take(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if err := m.Put(ctx, "c", []byte("v"), time.Minute); err != nil {
		t.Fatalf("Put after Take freed room = %v, want nil", err)
	}
}

func TestMemoryFullOfExpiredEntriesAcceptsWrites(t *testing.T) {
	ctx := t.Context()
	m, c := newMemory(t, 3)
	if err := m.Put(ctx, "live", []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := m.Put(ctx, fmt.Sprint("old", i), []byte("v"), time.Second); err != nil {
			t.Fatal(err)
		}
	}
	c.Advance(time.Second)

	if err := m.Put(ctx, "new1", []byte("v"), time.Minute); err != nil {
		t.Fatalf("Put into a store full of expired entries = %v, want nil", err)
	}
	if ok, err := m.PutIfAbsent(ctx, "new2", []byte("v"), time.Minute); err != nil || !ok {
		t.Fatalf("PutIfAbsent into the reclaimed room = %v, %v; want true, nil", ok, err)
	}
	if n := m.Len(); n != 3 {
		t.Fatalf("Len() = %d, want 3 (expired entries reclaimed)", n)
	}
	if err := m.Put(ctx, "new3", []byte("v"), time.Minute); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Put once full of live entries again = %v, want ErrUnavailable", err)
	}
	if _, err := m.Get(ctx, "live"); err != nil {
		t.Fatalf("live entry after reclaiming: %v", err)
	}
}

func TestMemoryJanitorReclaimsExpiredEntries(t *testing.T) {
	ctx := t.Context()
	c := newFakeClock()
	m := store.NewMemory(store.MemoryOptions{Now: c.Now, SweepInterval: time.Millisecond})
	t.Cleanup(func() { m.Close() })
	for i := range 10 {
		if err := m.Put(ctx, fmt.Sprint(i), []byte("v"), time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Put(ctx, "live", []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Second)

	// Wait for the janitor's next tick; nothing else touches the entries.
	deadline := time.Now().Add(5 * time.Second)
	for m.Len() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("Len() = %d 5s after expiry, want 1: the janitor did not sweep", m.Len())
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := m.Get(ctx, "live"); err != nil {
		t.Fatalf("the janitor removed a live entry: %v", err)
	}
}

func TestMemoryCloseStopsTheJanitor(t *testing.T) {
	var ticks atomic.Int64
	m := store.NewMemory(store.MemoryOptions{
		Now:           func() time.Time { ticks.Add(1); return time.Now() },
		SweepInterval: time.Millisecond,
	})
	deadline := time.Now().Add(5 * time.Second)
	for ticks.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatal("the janitor never ran")
		}
		time.Sleep(time.Millisecond)
	}

	if err := m.Close(); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}
	// Close returns only after the janitor goroutine has exited.
	after := ticks.Load()
	time.Sleep(50 * time.Millisecond) // 50 janitor intervals
	if n := ticks.Load(); n != after {
		t.Fatalf("the janitor read the clock %d more times after Close", n-after)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close() = %v, want nil", err)
	}
}

func TestMemoryClosedIsUnavailable(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		call func(m *store.Memory) error
	}{
		{"put", func(m *store.Memory) error { return m.Put(ctx, "k", nil, time.Minute) }},
		{"get", func(m *store.Memory) error { _, err := m.Get(ctx, "k"); return err }},
		{"take", func(m *store.Memory) error { _, err := m.Take(ctx, "k"); return err }},
		{"put-if-absent", func(m *store.Memory) error { _, err := m.PutIfAbsent(ctx, "k", nil, time.Minute); return err }},
		{"ping", func(m *store.Memory) error { return m.Ping(ctx) }},
	} {
		t.Run(tc.name+" on a closed store is unavailable", func(t *testing.T) {
			m := store.NewMemory(store.MemoryOptions{})
			if err := m.Put(ctx, "k", []byte("v"), time.Minute); err != nil {
				t.Fatal(err)
			}
			m.Close()
			if err := tc.call(m); !errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("%s after Close = %v, want ErrUnavailable", tc.name, err)
			}
		})
	}
}

func ExampleMemory() {
	ctx := context.Background()
	m := store.NewMemory(store.MemoryOptions{})
	defer m.Close()

	key := store.Key(store.NSRequestURI, "urn:ietf:params:oauth:request_uri:abc")
	_ = m.Put(ctx, key, []byte(`{"client_id":"app"}`), time.Minute)

	v, err := m.Take(ctx, key)
	fmt.Println(string(v), err)
	_, err = m.Take(ctx, key)
	fmt.Println(err)
	// Output:
	// {"client_id":"app"} <nil>
	// store: not found
}

func TestMemoryFullEvictsOnlyTheOldestUnredeemedPushedRequest(t *testing.T) {
	push := func(name string) string { return store.Key(store.NSRequestURI, name) }
	other := map[string]string{
		"jti mark":            store.Key(store.NSJTI, "client\x00jti-1"),
		"request object jti":  store.Key(store.NSRequestJTI, "6:client:jti-1"),
		"transaction":         store.Key(store.NSTransaction, "tx-1"),
		"expanded query hash": store.Key(store.NSExpanded, "q"),
	}
	for _, tc := range []struct {
		name string
		// fill writes the full store's contents, oldest first, and may read
		// some (redeeming pushed requests).
		fill func(t *testing.T, m *store.Memory)
		// write is the write into the full store.
		write func(m *store.Memory) error
		// evicted is the key that must be gone ("" = none); kept must stay.
		evicted string
		kept    []string
		wantErr bool
	}{
		{
			name: "a push into a store full of unredeemed pushes evicts the oldest",
			fill: func(t *testing.T, m *store.Memory) {
				for _, k := range []string{"p1", "p2", "p3"} {
					mustPut(t, m, push(k))
				}
			},
			write:   func(m *store.Memory) error { return m.Put(t.Context(), push("p4"), []byte("v"), time.Minute) },
			evicted: push("p1"),
			kept:    []string{push("p2"), push("p3"), push("p4")},
		},
		{
			name: "a jti mark into a store full of pushes evicts the oldest push",
			fill: func(t *testing.T, m *store.Memory) {
				for _, k := range []string{"p1", "p2", "p3"} {
					mustPut(t, m, push(k))
				}
			},
			write: func(m *store.Memory) error {
				ok, err := m.PutIfAbsent(t.Context(), other["jti mark"], []byte{1}, time.Minute)
				if !ok && err == nil {
					return errors.New("PutIfAbsent reported the new mark present")
				}
				return err
			},
			evicted: push("p1"),
			kept:    []string{push("p2"), push("p3"), other["jti mark"]},
		},
		{
			name: "marks, transactions and expanded queries are never evicted; the oldest push goes",
			fill: func(t *testing.T, m *store.Memory) {
				mustPut(t, m, other["jti mark"])
				mustPut(t, m, other["request object jti"])
				mustPut(t, m, other["transaction"])
				mustPut(t, m, push("p1"))
				mustPut(t, m, other["expanded query hash"])
			},
			write:   func(m *store.Memory) error { return m.Put(t.Context(), push("p2"), []byte("v"), time.Minute) },
			evicted: push("p1"),
			kept:    []string{other["jti mark"], other["request object jti"], other["transaction"], other["expanded query hash"], push("p2")},
		},
		{
			name: "a push being redeemed (read at the authorization endpoint) is not evicted",
			fill: func(t *testing.T, m *store.Memory) {
				for _, k := range []string{"p1", "p2", "p3"} {
					mustPut(t, m, push(k))
				}
				if _, err := m.Get(t.Context(), push("p1")); err != nil {
					t.Fatal(err)
				}
			},
			write:   func(m *store.Memory) error { return m.Put(t.Context(), push("p4"), []byte("v"), time.Minute) },
			evicted: push("p2"),
			kept:    []string{push("p1"), push("p3"), push("p4")},
		},
		{
			name: "a replaced push counts as the newest",
			fill: func(t *testing.T, m *store.Memory) {
				for _, k := range []string{"p1", "p2", "p3", "p1"} {
					mustPut(t, m, push(k))
				}
			},
			write:   func(m *store.Memory) error { return m.Put(t.Context(), push("p4"), []byte("v"), time.Minute) },
			evicted: push("p2"),
			kept:    []string{push("p1"), push("p3"), push("p4")},
		},
		{
			name: "a taken push leaves nothing behind to evict",
			fill: func(t *testing.T, m *store.Memory) {
				mustPut(t, m, push("p1"))
				mustPut(t, m, other["jti mark"])
				mustPut(t, m, other["transaction"])
				if _, err := m.Take(t.Context(), push("p1")); err != nil {
					t.Fatal(err)
				}
				mustPut(t, m, other["request object jti"])
			},
			write:   func(m *store.Memory) error { return m.Put(t.Context(), push("p2"), []byte("v"), time.Minute) },
			kept:    []string{other["jti mark"], other["transaction"], other["request object jti"]},
			wantErr: true,
		},
		{
			name: "with only redeemed pushes and marks the write is refused",
			fill: func(t *testing.T, m *store.Memory) {
				mustPut(t, m, push("p1"))
				mustPut(t, m, other["jti mark"])
				mustPut(t, m, push("p2"))
				for _, k := range []string{"p1", "p2"} {
					if _, err := m.Get(t.Context(), push(k)); err != nil {
						t.Fatal(err)
					}
				}
			},
			write:   func(m *store.Memory) error { return m.Put(t.Context(), other["transaction"], []byte("v"), time.Minute) },
			kept:    []string{push("p1"), other["jti mark"], push("p2")},
			wantErr: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The bound is the number of entries fill leaves.
			probe, _ := newMemory(t, 0)
			tc.fill(t, probe)
			m, _ := newMemory(t, probe.Len())
			tc.fill(t, m)

			err := tc.write(m)
			if tc.wantErr {
				if !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "memory store full") {
					t.Fatalf("write = %v, want ErrUnavailable saying memory store full", err)
				}
				if n := m.Evicted(); n != 0 {
					t.Fatalf("Evicted() = %d after a refused write, want 0", n)
				}
			} else if err != nil {
				t.Fatalf("write into the full store = %v, want nil (room made by eviction)", err)
			}
			if tc.evicted != "" {
				if _, err := m.Get(t.Context(), tc.evicted); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("Get(evicted) = %v, want ErrNotFound", err)
				}
				if n := m.Evicted(); n != 1 {
					t.Fatalf("Evicted() = %d, want 1", n)
				}
			}
			for _, k := range tc.kept {
				if _, err := m.Get(t.Context(), k); err != nil {
					t.Fatalf("Get(%s) = %v, want the entry kept", k, err)
				}
			}
		})
	}
}

func TestMemoryExpiredPushesLeaveTheEvictionQueue(t *testing.T) {
	ctx := t.Context()
	m, c := newMemory(t, 2)
	p1, p2, p3 := store.Key(store.NSRequestURI, "p1"), store.Key(store.NSRequestURI, "p2"), store.Key(store.NSRequestURI, "p3")
	if err := m.Put(ctx, p1, []byte("v"), time.Second); err != nil {
		t.Fatal(err)
	}
	if err := m.Put(ctx, p2, []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Second)
	// The full store sweeps p1 (expired) instead of evicting p2.
	if err := m.Put(ctx, p3, []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if n := m.Evicted(); n != 0 {
		t.Fatalf("Evicted() = %d, want 0: an expired entry was swept, not evicted", n)
	}
	for _, k := range []string{p2, p3} {
		if _, err := m.Get(ctx, k); err != nil {
			t.Fatalf("Get = %v, want the live push kept", err)
		}
	}
	// Both are now redeemed: nothing is left to evict.
	if err := m.Put(ctx, store.Key(store.NSRequestURI, "p4"), []byte("v"), time.Hour); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Put with only redeemed pushes = %v, want ErrUnavailable", err)
	}
}

func TestMemoryFloodOfPushesNeverRefusesOtherWrites(t *testing.T) {
	ctx := t.Context()
	const bound = 100
	m, _ := newMemory(t, bound)
	mark := store.Key(store.NSJTI, "client\x00jti")
	if ok, err := m.PutIfAbsent(ctx, mark, []byte{1}, time.Hour); err != nil || !ok {
		t.Fatalf("PutIfAbsent(mark) = %v, %v", ok, err)
	}
	for i := range 10 * bound {
		if err := m.Put(ctx, store.Key(store.NSRequestURI, fmt.Sprint("flood", i)), []byte("v"), time.Hour); err != nil {
			t.Fatalf("flood push %d = %v, want room by eviction", i, err)
		}
	}
	if n := m.Len(); n != bound {
		t.Fatalf("Len() = %d, want the bound %d", n, bound)
	}
	if ok, err := m.PutIfAbsent(ctx, mark, []byte{1}, time.Hour); err != nil || ok {
		t.Fatalf("PutIfAbsent(mark) after the flood = %v, %v; want false, nil: the jti mark must survive", ok, err)
	}
	for i := range 5 {
		if err := m.Put(ctx, store.Key(store.NSTransaction, fmt.Sprint("tx", i)), []byte("v"), time.Hour); err != nil {
			t.Fatalf("transaction %d after the flood = %v, want nil", i, err)
		}
	}
	if got, want := m.Evicted(), uint64(10*bound-(bound-1)+5); got != want {
		t.Fatalf("Evicted() = %d, want %d", got, want)
	}
}

// mustPut stores a live value under key.
func mustPut(t *testing.T, m *store.Memory, key string) {
	t.Helper()
	if err := m.Put(t.Context(), key, []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
}
