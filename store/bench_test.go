package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/parjarm/parjarm/internal/redistest"
	"github.com/parjarm/parjarm/store"
)

// benchKeys are realistic keys: namespaced hashes.
func benchKeys(prefix string, n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = store.Key(store.NSRequestURI, fmt.Sprint(prefix, i))
	}
	return keys
}

// benchValue is about the size of a stored pushed authorization request.
var benchValue = make([]byte, 512)

func benchPut(b *testing.B, s store.Store) {
	ctx := context.Background()
	keys := benchKeys("put", 1<<14)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := s.Put(ctx, keys[i%len(keys)], benchValue, time.Minute); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// benchTake takes b.N distinct keys, putting them in batches with the
// timer stopped.
func benchTake(b *testing.B, s store.Store) {
	ctx := context.Background()
	const batch = 1 << 12
	keys := benchKeys("take", batch)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i%batch == 0 {
			b.StopTimer()
			for _, k := range keys {
				if err := s.Put(ctx, k, benchValue, time.Minute); err != nil {
					b.Fatal(err)
				}
			}
			b.StartTimer()
		}
		if _, err := s.Take(ctx, keys[i%batch]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMemoryPut(b *testing.B) {
	m := store.NewMemory(store.MemoryOptions{})
	defer m.Close()
	benchPut(b, m)
}

func BenchmarkMemoryTake(b *testing.B) {
	m := store.NewMemory(store.MemoryOptions{})
	defer m.Close()
	benchTake(b, m)
}

func BenchmarkRedisPut(b *testing.B) {
	benchPut(b, newRedis(b, redistest.Start(b)))
}

func BenchmarkRedisTake(b *testing.B) {
	benchTake(b, newRedis(b, redistest.Start(b)))
}
