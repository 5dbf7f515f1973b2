package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parjarm/parjarm/internal/redistest"
)

// dataTrips counts the round trips that carry the store's own commands
// (not the HELLO and CLIENT SETNAME of a new connection) and those
// commands.
type dataTrips struct{ trips, cmds atomic.Int64 }

func (d *dataTrips) count(cmds []redis.Cmder) {
	n := 0
	for _, c := range cmds {
		switch strings.ToLower(c.Name()) {
		case "get", "getdel", "set", "eval":
			n++
		}
	}
	if n > 0 {
		d.trips.Add(1)
		d.cmds.Add(int64(n))
	}
}

func (d *dataTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (d *dataTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		d.count([]redis.Cmder{cmd})
		return next(ctx, cmd)
	}
}
func (d *dataTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		d.count(cmds)
		return next(ctx, cmds)
	}
}

// oneWorker returns a Redis store on srv whose batcher has a single
// worker, and the counter of its round trips.
func oneWorker(t *testing.T, srv *redistest.Server) (*Redis, *dataTrips) {
	t.Helper()
	client := redis.NewClient(&redis.Options{Addr: srv.Addr(), ReadTimeout: 2 * time.Second, ContextTimeoutEnabled: true})
	r := &Redis{client: client, batch: newBatcher(client, 1)}
	t.Cleanup(func() { r.Close() })
	counter := &dataTrips{}
	client.AddHook(counter)
	return r, counter
}

// hold starts a Put on r while redis-server is stopped and returns once the
// worker is waiting for its reply; wait returns the Put's error.
func hold(t *testing.T, srv *redistest.Server, r *Redis) (wait func() error) {
	t.Helper()
	if err := srv.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Put(context.Background(), "held", []byte("v"), time.Minute) }()
	time.Sleep(100 * time.Millisecond)
	return func() error { return <-done }
}

// TestQueuedOperationsGoInOnePipeline holds the only worker on a stopped
// redis-server while 63 operations of every kind queue up: once Redis goes
// on, they take one round trip together, and each gets its own result.
func TestQueuedOperationsGoInOnePipeline(t *testing.T) {
	srv := redistest.Start(t)
	r, counter := oneWorker(t, srv)
	ctx := t.Context()
	for i := range 64 {
		if err := r.Put(ctx, fmt.Sprint("k", i), []byte(fmt.Sprint("v", i)), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	counter.trips.Store(0)
	counter.cmds.Store(0)

	held := hold(t, srv, r)
	const n = 63
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = operation(ctx, r, i) })
	}
	time.Sleep(100 * time.Millisecond)
	if err := srv.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if err := held(); err != nil {
		t.Errorf("the held Put = %v", err)
	}
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if trips, cmds := counter.trips.Load(), counter.cmds.Load(); trips != 2 || cmds != n+1 {
		t.Errorf("the held operation and %d queued ones took %d round trips with %d commands, want 2 with %d", n, trips, cmds, n+1)
	}
}

// operation runs the i-th operation of TestQueuedOperationsGoInOnePipeline
// on key k<i> (value v<i>) and checks its result.
func operation(ctx context.Context, r *Redis, i int) error {
	key, want := fmt.Sprint("k", i), fmt.Sprint("v", i)
	switch i % 5 {
	case 0:
		if v, err := r.Get(ctx, key); err != nil || string(v) != want {
			return fmt.Errorf("Get(%s) = %q, %v; want %q", key, v, err, want)
		}
	case 1:
		if v, err := r.Take(ctx, key); err != nil || string(v) != want {
			return fmt.Errorf("Take(%s) = %q, %v; want %q", key, v, err, want)
		}
	case 2:
		if _, err := r.Get(ctx, "missing"+key); !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("Get(missing) = %v, want ErrNotFound", err)
		}
	case 3:
		if stored, err := r.PutIfAbsent(ctx, key, []byte("other"), time.Minute); err != nil || stored {
			return fmt.Errorf("PutIfAbsent(%s) over an existing key = %v, %v; want false", key, stored, err)
		}
	case 4:
		v, linked, err := r.TakeLinked(ctx, key)
		if err != nil || string(v) != want || len(linked) != 0 {
			return fmt.Errorf("TakeLinked(%s) = %q, %v, %v; want %q", key, v, linked, err, want)
		}
	}
	return nil
}

// TestAnOperationWhoseCallerLeftIsNotSent queues writes behind the only
// worker, held on a stopped redis-server, with a deadline that passes
// before Redis goes on: each fails with ErrUnavailable within its
// deadline, and none is written afterwards.
func TestAnOperationWhoseCallerLeftIsNotSent(t *testing.T) {
	srv := redistest.Start(t)
	r, counter := oneWorker(t, srv)
	held := hold(t, srv, r)
	const n = 16
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
			defer cancel()
			start := time.Now()
			if err := r.Put(ctx, fmt.Sprint("late-", i), []byte("v"), time.Minute); !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Put behind a held worker = %v, want ErrUnavailable for the deadline", err)
			}
			if took := time.Since(start); took > time.Second {
				t.Errorf("Put with a 100ms deadline took %s", took)
			}
		})
	}
	wg.Wait()
	if err := srv.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if err := held(); err != nil {
		t.Fatalf("the held Put = %v", err)
	}
	// The worker is free again: a new operation goes out, the abandoned
	// ones did not.
	if err := r.Put(t.Context(), "after", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := r.Get(t.Context(), fmt.Sprint("late-", i)); !errors.Is(err, ErrNotFound) {
			t.Errorf("abandoned write late-%d: Get = %v, want ErrNotFound", i, err)
		}
	}
	if cmds := counter.cmds.Load(); cmds != 2+n {
		t.Errorf("%d commands sent, want %d: the held and the later Put, the %d checks", cmds, 2+n, n)
	}
}
