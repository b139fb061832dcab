package andromeda

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// maxBatch bounds how many adds one script call decides, so that no call holds Redis
// for long.
const maxBatch = 512

// coalescer sends concurrent adds to the same key together (group commit, no timer). An
// add on a key with nothing in flight goes straight out from its caller's goroutine as a
// plain add, through Cache.AddUsage: no queue, no channel, no goroutine, the same cost
// and the same unknown-outcome handling as without Option.Coalesce. Only an add that
// finds a call in flight for its key queues; when that call returns, the queue goes as
// one AddUsageBatch call that decides the adds in arrival order, sent by one goroutine
// that keeps sending the key's queue until it is empty. So one call per key is in flight
// at a time, and a quiet key, or one of many keys, never waits for anything.
//
// The adds of one AddQuotaUsage to one key share its LimitKey and CreateMissing; when a
// batch creates the key, the first add's Expiration is used.
type coalescer struct {
	cache Cache
	mu    sync.Mutex
	// keys holds the keys with a call in flight; the queue is nil until an add waits.
	keys map[string]*addQueue
}

type addQueue struct {
	waiting []*queuedAdd
}

type queuedAdd struct {
	ctx       context.Context
	args      AddUsageArgs
	done      chan struct{}
	res       CacheResult
	err       error
	sent      bool // guarded by coalescer.mu
	abandoned bool // guarded by coalescer.mu
}

func newCoalescer(cache Cache) *coalescer {
	return &coalescer{cache: cache, keys: map[string]*addQueue{}}
}

// add sends args at once when its key has nothing in flight, or else queues it for the
// next batch of its key and waits for its own result. A caller whose ctx ends before its
// batch is sent is left out of it; one whose batch is already in flight gets ctx's error
// wrapped in ErrUnknownOutcome: the add may or may not have been applied, as with any
// call cut short.
func (c *coalescer) add(ctx context.Context, args AddUsageArgs) (CacheResult, error) {
	if err := ctx.Err(); err != nil {
		return CacheResult{}, err
	}
	c.mu.Lock()
	q, inFlight := c.keys[args.Key]
	if !inFlight {
		c.keys[args.Key] = nil
		c.mu.Unlock()
		res, err := c.cache.AddUsage(ctx, args)
		c.finished(args.Key)
		return res, err
	}
	if q == nil {
		q = &addQueue{}
		c.keys[args.Key] = q
	}
	a := &queuedAdd{ctx: ctx, args: args, done: make(chan struct{})}
	q.waiting = append(q.waiting, a)
	c.mu.Unlock()

	select {
	case <-a.done:
		return a.res, a.err
	case <-ctx.Done():
		c.mu.Lock()
		a.abandoned = !a.sent
		c.mu.Unlock()
		if !a.abandoned {
			return CacheResult{}, fmt.Errorf("%w: its batch was sent: %w", ErrUnknownOutcome, ctx.Err())
		}
		return CacheResult{}, ctx.Err()
	}
}

// finished is called when an add sent alone returns: the key is free again, unless adds
// queued behind it meanwhile; those go as batches, from a goroutine of their own, since
// the caller that found them has its own result to return.
func (c *coalescer) finished(key string) {
	c.mu.Lock()
	q := c.keys[key]
	if q == nil {
		delete(c.keys, key)
	}
	c.mu.Unlock()
	if q != nil {
		go c.send(key, q)
	}
}

// send sends the queue of key as batches until it is empty.
func (c *coalescer) send(key string, q *addQueue) {
	for {
		batch := c.next(key, q)
		if len(batch) == 0 {
			return
		}
		args := make([]AddUsageArgs, len(batch))
		for i, a := range batch {
			args[i] = a.args
		}
		ctx, cancel := batchContext(batch)
		results, err := c.cache.AddUsageBatch(ctx, args)
		cancel()
		for i, a := range batch {
			if err != nil {
				a.err = err
			} else {
				a.res = results[i]
			}
			close(a.done)
		}
	}
}

// next takes up to maxBatch queued adds that are still wanted, or, when none are left,
// retires the queue so that the next add for key goes straight out.
func (c *coalescer) next(key string, q *addQueue) []*queuedAdd {
	c.mu.Lock()
	defer c.mu.Unlock()
	var batch []*queuedAdd
	taken := 0
	for _, a := range q.waiting {
		if len(batch) == maxBatch {
			break
		}
		taken++
		if a.abandoned {
			continue
		}
		a.sent = true
		batch = append(batch, a)
	}
	q.waiting = q.waiting[taken:]
	if len(batch) == 0 { // every add queued was taken or abandoned
		delete(c.keys, key)
	}
	return batch
}

// batchContext is the context a batch is sent with: no one caller leaving may cancel the
// others' adds, so it ends only at the latest of their deadlines (when all have one).
func batchContext(batch []*queuedAdd) (context.Context, context.CancelFunc) {
	var latest time.Time
	for _, a := range batch {
		deadline, ok := a.ctx.Deadline()
		if !ok {
			return context.WithCancel(context.WithoutCancel(batch[0].ctx))
		}
		if deadline.After(latest) {
			latest = deadline
		}
	}
	return context.WithDeadline(context.WithoutCancel(batch[0].ctx), latest)
}
