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
// plain add, through the store's AddUsage: no queue, no channel, no goroutine, the same cost
// and the same unknown-outcome handling as without Option.Coalesce. Only an add that
// finds a call in flight for its key queues. When that call returns, its caller hands the
// queue, as one batch, to one of the queued callers, which sends it with the store's AddUsageBatch
// (deciding the adds in arrival order) from its own goroutine, hands the next queue on
// the same way, and gives each caller of its batch its result. So one call per key is in
// flight at a time, no goroutine is started, and a quiet key, or one of many keys, never
// waits for anything.
//
// The adds of one AddQuotaUsage to one key share its LimitKey and CreateMissing; when a
// batch creates the key, the first add's Expiration is used.
type coalescer struct {
	cache *store
	mu    sync.Mutex
	// keys holds the keys with a call in flight; the queue is nil until an add waits.
	keys map[string]*addQueue
}

type addQueue struct {
	waiting []*queuedAdd
}

type queuedAdd struct {
	ctx       context.Context
	args      addUsageArgs
	done      chan struct{}
	res       cacheResult
	err       error
	sent      bool // guarded by coalescer.mu
	abandoned bool // guarded by coalescer.mu
	// batch is set, before done is closed, on the add whose caller sends the batch.
	batch []*queuedAdd // guarded by coalescer.mu
}

func newCoalescer(cache Cache) *coalescer {
	return &coalescer{cache: newStore(cache), keys: map[string]*addQueue{}}
}

// add sends args at once when its key has nothing in flight, or else queues it for the
// next batch of its key and waits for its own result (or for the batch to send). A
// caller whose ctx ends before its batch is sent is left out of it; one whose batch is
// already in flight gets ctx's error wrapped in ErrUnknownOutcome: the add may or may not
// have been applied, as with any call cut short. The caller that sends a batch is the
// one with the latest deadline (or none), and the batch is sent with that deadline but
// without its cancellation, so that no caller leaving cancels the others' adds and none
// waits past its own deadline; a sender cancelled without a deadline returns when its
// batch does, as a plain add's call runs to its end.
func (c *coalescer) add(ctx context.Context, args addUsageArgs) (cacheResult, error) {
	if err := ctx.Err(); err != nil {
		return cacheResult{}, err
	}
	c.mu.Lock()
	q, inFlight := c.keys[args.Key]
	if !inFlight {
		c.keys[args.Key] = nil
		c.mu.Unlock()
		defer c.handOff(args.Key) // deferred: a panicking Cache must not leave the key in flight
		return c.cache.AddUsage(ctx, args)
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
	case <-ctx.Done():
		c.mu.Lock()
		abandoned := !a.sent // read here, under the lock: next may set a.abandoned too
		a.abandoned = abandoned
		sends := a.batch != nil
		c.mu.Unlock()
		if abandoned {
			return cacheResult{}, ctx.Err()
		}
		if !sends {
			return cacheResult{}, fmt.Errorf("%w: its batch was sent: %w", ErrUnknownOutcome, ctx.Err())
		}
		// Chosen to send its batch just as its context ended: the others wait for it.
		<-a.done
	}
	if a.batch != nil {
		c.send(a)
	}
	return a.res, a.err
}

// handOff is called when the call in flight for key returns: the key is free again,
// unless adds queued meanwhile; then they go as the next batch, sent by one of them.
func (c *coalescer) handOff(key string) {
	c.mu.Lock()
	sender := c.next(key)
	c.mu.Unlock()
	if sender != nil {
		close(sender.done)
	}
}

// send sends the batch of sender, hands the key's queue on, and gives each add its
// result.
func (c *coalescer) send(sender *queuedAdd) {
	batch := sender.batch
	args := make([]addUsageArgs, len(batch))
	for i, a := range batch {
		args[i] = a.args
	}
	ctx, cancel := batchContext(sender.ctx)
	sent := false
	defer func() {
		if sent {
			return
		}
		// The Cache panicked, after the batch may have been written: the panic goes on
		// in the sender's caller, the key is freed, and the others may have been applied.
		cancel()
		c.handOff(sender.args.Key)
		for _, a := range batch {
			if a != sender {
				a.err = fmt.Errorf("%w: the Cache panicked while sending its batch", ErrUnknownOutcome)
				close(a.done)
			}
		}
	}()
	var results []cacheResult
	var err error
	if len(batch) == 1 { // the plain script: a batch of one costs no more than an add
		var res cacheResult
		res, err = c.cache.AddUsage(ctx, args[0])
		results = []cacheResult{res}
	} else {
		results, err = c.cache.AddUsageBatch(ctx, args)
	}
	sent = true
	cancel()
	for i, a := range batch {
		if err != nil {
			a.err = err
		} else {
			a.res = results[i]
		}
		if a != sender {
			close(a.done)
		}
	}
	// The next batch's sender is woken last: the goroutine woken last runs first on this
	// core (the others wait in its queue), so the next call goes out before this batch's
	// callers take the core, and their next adds join the batch after it.
	c.handOff(sender.args.Key)
}

// next takes up to maxBatch queued adds of key that are still wanted, and returns the
// one whose caller is to send them (nil when none are left: the key is free again). An
// add whose context has ended is left out. Called with c.mu held.
func (c *coalescer) next(key string) *queuedAdd {
	q := c.keys[key]
	if q == nil {
		delete(c.keys, key)
		return nil
	}
	var batch []*queuedAdd
	var sender *queuedAdd
	var latest time.Time
	taken := 0
	for _, a := range q.waiting {
		if len(batch) == maxBatch {
			break
		}
		taken++
		if a.abandoned || a.ctx.Err() != nil {
			a.abandoned = true
			continue
		}
		a.sent = true
		batch = append(batch, a)
		// The sender is the one that may wait longest: no deadline, or the latest.
		deadline, ok := a.ctx.Deadline()
		switch {
		case sender == nil:
			sender, latest = a, deadline
		case latest.IsZero():
		case !ok || deadline.After(latest):
			sender, latest = a, deadline
		}
	}
	q.waiting = q.waiting[taken:]
	if len(batch) == 0 { // every add queued was taken or abandoned
		delete(c.keys, key)
		return nil
	}
	sender.batch = batch
	return sender
}

// batchContext is the context a batch is sent with: its sender's values and deadline
// (the latest of the batch), without its cancellation, so that the sender leaving does
// not cancel the others' adds.
func batchContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if deadline, ok := ctx.Deadline(); ok {
		return context.WithDeadline(context.WithoutCancel(ctx), deadline)
	}
	// Not WithCancel: a context that can never end lets a transport send without
	// watching it (the go-redis adapters start no goroutine then).
	return context.WithoutCancel(ctx), func() {}
}
