package store

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Batching: the commands of concurrent requests share round trips.
//
// Every round trip to Redis costs a write and a read system call in the
// gateway and the same in redis-server, whatever it carries; under load
// those calls, not the commands, are most of the store's cost. A batcher
// hands each operation to one of a few workers; a worker takes every
// operation waiting at that moment (up to maxBatch) and sends them to
// Redis as one pipeline. With one request at a time an operation still
// goes out alone and at once: batching adds no wait, it merges what is
// already waiting. Each operation reads the results of its own commands,
// which stay in order and together on the pipeline's one connection;
// operations of different callers were concurrent anyway, so their
// relative order was never defined.
//
// What a failure does. When the connection fails part way, go-redis marks
// every command of the pipeline with the error, those whose replies had
// arrived too: each operation of it fails with ErrUnavailable, as one
// whose reply is lost does, and its write may have happened (as with any
// timeout). When the pipeline fails before any command ran (no
// connection, a refused handshake such as NOAUTH), go-redis leaves the
// commands without an error: exec then fails every operation itself. No
// operation ever reads a zero value as a result. A queue of operations waiting for a
// stalled Redis is bounded twice: an operation that finds the queue full
// fails at once, and one that waited longer than the client's read timeout
// for its turn fails without being sent. Redis Cluster is not batched:
// go-redis retries a node's whole pipeline after a network error, which
// would run again commands already answered (a GETDEL would then answer
// "not found" for a value it took).

// Defaults of the batcher.
const (
	// batchWorkers is how many pipelines may be in flight at once. A few
	// suffice: a worker's batch grows with the load while it waits for
	// Redis, and each in-flight pipeline holds one pooled connection.
	batchWorkers = 8
	// maxBatch bounds the operations of one pipeline, so that a burst
	// cannot build one huge write.
	maxBatch = 128
)

// errClosed is what operations get after Close.
var errClosed = errors.New("store closed")

// errBacklog is what an operation gets when Redis is too far behind: the
// queue is full, or it waited longer than the read timeout for its turn.
var errBacklog = errors.New("too many operations waiting for Redis")

// batcher runs operations on client in shared pipelines.
type batcher struct {
	client redis.UniversalClient
	// maxWait is how long an operation may wait for its turn.
	maxWait   time.Duration
	ops       chan *batchOp
	stop      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// batchOp is one caller's operation: queue adds its commands to the
// pipeline; done receives once they have their results (or err is set).
type batchOp struct {
	ctx    context.Context
	queue  func(redis.Cmdable)
	queued time.Time
	done   chan struct{}
	err    error
}

var opPool = sync.Pool{New: func() any { return &batchOp{done: make(chan struct{}, 1)} }}

func newBatcher(client redis.UniversalClient, workers int, maxWait time.Duration) *batcher {
	b := &batcher{client: client, maxWait: maxWait, ops: make(chan *batchOp, workers*maxBatch), stop: make(chan struct{})}
	b.wg.Add(workers)
	for range workers {
		go b.work()
	}
	return b
}

// do runs queue's commands in the next pipeline and waits for their
// results; the caller then reads them from the commands queue added. The
// error is for the operation as a whole (Redis unreachable before any
// command ran, a backlog, ctx done, the store closed): then no command's
// result may be read. Otherwise each command holds its own result or error
// (a missing key, a script error, a connection that failed before its
// reply). queue may run after do returned with ctx's error, so what it
// reads (a value to write) must not change after the call.
func (b *batcher) do(ctx context.Context, queue func(redis.Cmdable)) error {
	op := opPool.Get().(*batchOp)
	op.ctx, op.queue, op.queued, op.err = ctx, queue, time.Now(), nil
	select {
	case b.ops <- op:
	case <-b.stop:
		b.release(op)
		return errClosed
	default:
		// Redis is that far behind: answer now rather than wait in line.
		b.release(op)
		return errBacklog
	}
	select {
	case <-op.done:
		err := op.err
		b.release(op)
		return err
	case <-ctx.Done():
		// The worker may still hold op: it is not reused, and its
		// result, when it comes, goes nowhere (done has room for it).
		return ctx.Err()
	case <-b.stop:
		select {
		case <-op.done:
			// Done just as the store closed: the result stands.
			err := op.err
			b.release(op)
			return err
		default:
			return errClosed
		}
	}
}

func (b *batcher) release(op *batchOp) {
	op.ctx, op.queue, op.err = nil, nil, nil
	opPool.Put(op)
}

func (b *batcher) work() {
	defer b.wg.Done()
	batch := make([]*batchOp, 0, maxBatch)
	for {
		select {
		case op := <-b.ops:
			batch = append(batch[:0], op)
		case <-b.stop:
			return
		}
	drain:
		for len(batch) < maxBatch {
			select {
			case op := <-b.ops:
				batch = append(batch, op)
			default:
				break drain
			}
		}
		b.exec(batch)
		clear(batch)
	}
}

// exec sends batch as one pipeline. A caller that gave up before its turn
// (its ctx done) is left out: nothing of its is sent.
func (b *batcher) exec(batch []*batchOp) {
	pipe := b.client.Pipeline()
	live := batch[:0]
	now := time.Now()
	for _, op := range batch {
		err := op.ctx.Err()
		if err == nil && now.Sub(op.queued) > b.maxWait {
			err = errBacklog
		}
		if err != nil {
			op.err = err
			op.done <- struct{}{}
			continue
		}
		op.queue(pipe)
		live = append(live, op)
	}
	if len(live) == 0 {
		return
	}
	// The pipeline's context is not a caller's: one caller leaving must
	// not fail the others. The client's read and write timeouts bound it.
	cmds, err := pipe.Exec(context.Background())
	if err != nil && !anyFailed(cmds) {
		// Nothing ran (no connection, a refused handshake such as NOAUTH):
		// go-redis left the commands without an error and without a
		// result, so every operation fails.
		for _, op := range live {
			op.err = err
			op.done <- struct{}{}
		}
		return
	}
	// Each command holds its reply or the pipeline's error.
	for _, op := range live {
		op.done <- struct{}{}
	}
}

// anyFailed reports whether a command of cmds holds an error.
func anyFailed(cmds []redis.Cmder) bool {
	for _, c := range cmds {
		if c.Err() != nil {
			return true
		}
	}
	return false
}

// close stops the workers; operations after it fail with errClosed.
func (b *batcher) close() {
	b.closeOnce.Do(func() { close(b.stop) })
	b.wg.Wait()
}
