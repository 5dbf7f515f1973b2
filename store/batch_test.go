package store_test

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/parjarm/parjarm/internal/redistest"
	"github.com/parjarm/parjarm/store"
)

// TestOperationsAfterCloseFail checks that a closed store answers
// ErrUnavailable at once instead of waiting for a worker.
func TestOperationsAfterCloseFail(t *testing.T) {
	srv := redistest.Start(t)
	r, err := store.NewRedis(store.RedisOptions{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Put(t.Context(), "k", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	r.Close()
	done := make(chan error, 1)
	go func() { _, err := r.Get(t.Context(), "k"); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("Get after Close = %v, want ErrUnavailable", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Get after Close hangs")
	}
}

// TestAServerThatHangsUpAtOnceFailsEveryOperation points the store at a
// server that accepts, reads the connection's first command and closes:
// every operation gets ErrUnavailable, none a zero value as if it had
// succeeded.
func TestAServerThatHangsUpAtOnceFailsEveryOperation(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			// Read a little of the handshake, then hang up.
			buf := make([]byte, 16)
			_, _ = c.Read(buf)
			c.Close()
		}
	}()
	r, err := store.NewRedis(store.RedisOptions{URL: "redis://" + ln.Addr().String() + "/0"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			v, err := r.Get(t.Context(), fmt.Sprint("k", i))
			if !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("Get over a broken connection = %q, %v; want ErrUnavailable", v, err)
			}
			if _, err := r.Take(t.Context(), fmt.Sprint("k", i)); !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("Take over a broken connection = %v; want ErrUnavailable", err)
			}
		})
	}
	wg.Wait()
}
