package store

import (
	"context"
	"errors"
	"sync"

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
// already waiting. Each operation keeps its own commands and results, and
// commands of one operation stay in order and together (a pipeline is
// sent on one connection as one stream); operations of different callers
// were concurrent anyway, so their relative order was never defined.

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

// batcher runs operations on client in shared pipelines.
type batcher struct {
	client    redis.UniversalClient
	ops       chan *batchOp
	stop      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// batchOp is one caller's operation: queue adds its commands to the
// pipeline; done is closed once they have their results (or err is set).
type batchOp struct {
	ctx   context.Context
	queue func(redis.Pipeliner)
	done  chan struct{}
	err   error
}

var opPool = sync.Pool{New: func() any { return &batchOp{done: make(chan struct{}, 1)} }}

func newBatcher(client redis.UniversalClient, workers int) *batcher {
	b := &batcher{client: client, ops: make(chan *batchOp, workers*maxBatch), stop: make(chan struct{})}
	b.wg.Add(workers)
	for range workers {
		go b.work()
	}
	return b
}

// do runs queue's commands in the next pipeline and waits for their
// results; the caller then reads them from the commands queue added. The
// error is for the whole pipeline (Redis unreachable, ctx done, the store
// closed): then no command's result may be read. A command's own error
// (a missing key, a script error) is in that command.
func (b *batcher) do(ctx context.Context, queue func(redis.Pipeliner)) error {
	op := opPool.Get().(*batchOp)
	op.ctx, op.queue, op.err = ctx, queue, nil
	select {
	case b.ops <- op:
		// The queue has room nearly always: no need to watch ctx and stop
		// for that (a select over three channels costs more).
	default:
		if err := b.enqueue(ctx, op); err != nil {
			return err
		}
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
		return errClosed
	}
}

// enqueue waits for room in the queue, unless ctx ends or the store closes
// first.
func (b *batcher) enqueue(ctx context.Context, op *batchOp) error {
	select {
	case b.ops <- op:
		return nil
	case <-b.stop:
		b.release(op)
		return errClosed
	case <-ctx.Done():
		b.release(op)
		return ctx.Err()
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
	for _, op := range batch {
		if err := op.ctx.Err(); err != nil {
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
	_, err := pipe.Exec(context.Background())
	var reply redis.Error
	if err != nil && errors.As(err, &reply) {
		// A command's own reply (redis.Nil is one): every command has its
		// result, to be read by its caller.
		err = nil
	}
	for _, op := range live {
		op.err = err
		op.done <- struct{}{}
	}
}

// close stops the workers; operations after it fail with errClosed.
func (b *batcher) close() {
	b.closeOnce.Do(func() { close(b.stop) })
	b.wg.Wait()
}
