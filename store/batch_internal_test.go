package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
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
	r := &Redis{client: client, batch: newBatcher(client, 1, 2*time.Second)}
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

// TestAStalledRedisFailsTheBacklogQuickly stops redis-server while 2,000
// operations without a deadline arrive for one worker: those that find
// the queue full fail at once, and those that waited longer than maxWait
// for their turn fail without being sent, so that none waits much longer
// than the read timeout of the one pipeline in flight, and only that one
// is sent.
func TestAStalledRedisFailsTheBacklogQuickly(t *testing.T) {
	srv := redistest.Start(t)
	const readTimeout, maxWait = 500 * time.Millisecond, 50 * time.Millisecond
	client := redis.NewClient(&redis.Options{Addr: srv.Addr(), ReadTimeout: readTimeout, MaxRetries: -1, ContextTimeoutEnabled: true})
	r := &Redis{client: client, batch: newBatcher(client, 1, maxWait)}
	t.Cleanup(func() { r.Close() })
	if err := r.Put(t.Context(), "k", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	counter := &dataTrips{}
	client.AddHook(counter)
	if err := srv.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer srv.Signal(syscall.SIGCONT)
	const n = 2000
	var slowest atomic.Int64
	var backlog atomic.Int32
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			start := time.Now()
			_, err := r.Get(context.Background(), "k")
			took := time.Since(start)
			for {
				old := slowest.Load()
				if int64(took) <= old || slowest.CompareAndSwap(old, int64(took)) {
					break
				}
			}
			if !errors.Is(err, ErrUnavailable) {
				t.Errorf("Get from a stalled Redis = %v, want ErrUnavailable", err)
			}
			if errors.Is(err, errBacklog) {
				backlog.Add(1)
			}
		})
	}
	wg.Wait()
	took := time.Duration(slowest.Load())
	t.Logf("%d Gets from a stalled Redis: the slowest answered after %s, %d for the backlog, %d round trips", n, took, backlog.Load(), counter.trips.Load())
	// Without the bound on the wait, the operations queued behind the
	// first pipeline would go in a second one and wait a read timeout more.
	if trips := counter.trips.Load(); trips != 1 {
		t.Errorf("%d pipelines sent to the stalled Redis, want 1 (the rest waited too long)", trips)
	}
	if limit := readTimeout + 300*time.Millisecond; took > limit {
		t.Errorf("the slowest Get took %s, want at most %s", took, limit)
	}
	if backlog.Load() < n/2 {
		t.Errorf("%d of %d Gets failed for the backlog, want most of them", backlog.Load(), n)
	}
}

// TestARefusedHandshakeFailsEveryOperation makes Redis require a password
// the store does not have: the connection's handshake fails with a Redis
// error before any command runs, and every kind of operation must answer
// ErrUnavailable, never a zero value as if it had succeeded.
func TestARefusedHandshakeFailsEveryOperation(t *testing.T) {
	srv := redistest.Start(t)
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	if err := admin.ConfigSet(t.Context(), "requirepass", "s3cret-for-the-test").Err(); err != nil {
		t.Fatal(err)
	}
	admin.Close()
	r, err := NewRedis(RedisOptions{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.batch == nil {
		t.Fatal("the store does not batch")
	}
	ctx := t.Context()
	e := Entry{Key: "k", Value: []byte("v"), TTL: time.Minute}
	for name, call := range map[string]func() error{
		"Put":        func() error { return r.Put(ctx, "k", []byte("v"), time.Minute) },
		"Get":        func() error { _, err := r.Get(ctx, "k"); return err },
		"Take":       func() error { _, err := r.Take(ctx, "k"); return err },
		"PutAll":     func() error { return r.PutAll(ctx, []Entry{e, {Key: "k2", Value: []byte("v"), TTL: time.Minute}}) },
		"TakeLinked": func() error { _, _, err := r.TakeLinked(ctx, "k"); return err },
		"PutIfAbsent": func() error {
			stored, err := r.PutIfAbsent(ctx, "k", []byte("v"), time.Minute)
			if err == nil && !stored {
				return errors.New("answered false (an existing key) without an error")
			}
			return err
		},
		"PutIfAbsentThen": func() error {
			_, err := r.PutIfAbsentThen(ctx, e, []Entry{{Key: "k3", Value: []byte("v"), TTL: time.Minute}})
			return err
		},
	} {
		if err := call(); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "NOAUTH") {
			t.Errorf("%s with a refused handshake = %v, want ErrUnavailable naming NOAUTH", name, err)
		}
	}
}

// fakeRedis serves RESP on a loopback port: it refuses HELLO, answers the
// connection's other set-up commands +OK and, of the store's commands, holds the reply to
// the first for hold, answers the next answered ones with "$1 v", then
// hangs up without answering the rest.
func fakeRedis(t *testing.T, hold time.Duration, answered int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		data := 0
		for {
			args, err := readCommand(br)
			if err != nil {
				return
			}
			switch strings.ToUpper(args[0]) {
			case "HELLO":
				// As a server before Redis 6: go-redis goes on without it.
				io.WriteString(c, "-ERR unknown command 'HELLO'\r\n")
				continue
			case "CLIENT", "SELECT", "AUTH", "PING":
				io.WriteString(c, "+OK\r\n")
				continue
			}
			if data == 0 {
				time.Sleep(hold)
			} else if data > answered {
				return
			}
			data++
			io.WriteString(c, "$1\r\nv\r\n")
		}
	}()
	return ln.Addr().String()
}

// readCommand reads one RESP array of bulk strings.
func readCommand(br *bufio.Reader) ([]string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(line, "*") {
		return nil, fmt.Errorf("not an array: %q", line)
	}
	var n int
	if _, err := fmt.Sscanf(line, "*%d\r\n", &n); err != nil {
		return nil, err
	}
	args := make([]string, n)
	for i := range args {
		var size int
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, err
		}
		if _, err := fmt.Sscanf(line, "$%d\r\n", &size); err != nil {
			return nil, err
		}
		b := make([]byte, size+2)
		if _, err := io.ReadFull(br, b); err != nil {
			return nil, err
		}
		args[i] = string(b[:size])
	}
	return args, nil
}

// TestAConnectionLostMidPipelineFailsItsOperations holds one Get while
// eight more queue behind it; the server then answers three of the eight
// and hangs up. The held one succeeds with its value. go-redis marks every
// command of the broken pipeline with the error, also the three whose
// replies had arrived, so all eight answer ErrUnavailable: none gets a
// value it was not sent, none a zero value as if it had succeeded.
func TestAConnectionLostMidPipelineFailsItsOperations(t *testing.T) {
	addr := fakeRedis(t, 200*time.Millisecond, 3)
	client := redis.NewClient(&redis.Options{Addr: addr, ReadTimeout: 2 * time.Second, MaxRetries: -1, Protocol: 2, ContextTimeoutEnabled: true})
	r := &Redis{client: client, batch: newBatcher(client, 1, 2*time.Second)}
	t.Cleanup(func() { r.Close() })
	held := make(chan error, 1)
	go func() {
		v, err := r.Get(context.Background(), "held")
		if err == nil && string(v) != "v" {
			err = fmt.Errorf("value %q", v)
		}
		held <- err
	}()
	time.Sleep(50 * time.Millisecond)
	const queued = 8
	var wg sync.WaitGroup
	for i := range queued {
		wg.Go(func() {
			if v, err := r.Get(context.Background(), fmt.Sprint("k", i)); !errors.Is(err, ErrUnavailable) {
				t.Errorf("a Get of the broken pipeline = %q, %v; want ErrUnavailable", v, err)
			}
		})
	}
	wg.Wait()
	if err := <-held; err != nil {
		t.Errorf("the held Get = %v, want its value", err)
	}
}
