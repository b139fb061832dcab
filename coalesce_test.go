package andromeda_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/internal/storetypes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recordingCache records every call the coalescer makes, an add sent alone
// (add.lua) or a batch (add_batch.lua), in the order Redis decided them: one call per key
// is in flight at a time.
type recordingCache struct {
	andromeda.Cache
	mu      sync.Mutex
	decided []storetypes.AddUsageArgs
	results []storetypes.CacheResult
	batches int // calls of either kind
	alone   int // of which adds sent alone
	largest int
	// entered, if set, hears of each call (its number of adds) before it is sent;
	// release, if set, holds it until it is released or its context ends.
	entered chan int
	release chan struct{}
}

func (r *recordingCache) RunScript(ctx context.Context, s *andromeda.Script, keys []string, args ...any) (any, error) {
	batch := decodeAdds(s, keys, args)
	if batch == nil {
		return r.Cache.RunScript(ctx, s, keys, args...)
	}
	if r.entered != nil {
		r.entered <- len(batch)
	}
	if r.release != nil {
		select {
		case <-r.release:
		case <-ctx.Done(): // as a real Cache reports a call cut short
			return nil, fmt.Errorf("%w: %w", andromeda.ErrUnknownOutcome, ctx.Err())
		}
	}
	reply, err := r.Cache.RunScript(ctx, s, keys, args...)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		results, perr := decodeResults(s, reply, batch)
		if perr != nil {
			return nil, perr
		}
		r.decided = append(r.decided, batch...)
		r.results = append(r.results, results...)
	}
	r.batches++
	if s.SHA1() == addSHA {
		r.alone++
	}
	r.largest = max(r.largest, len(batch))
	return reply, err
}

func coalescing(b backend) (*recordingCache, func(*andromeda.AddQuotaUsageConfig)) {
	rec := &recordingCache{Cache: b.cache}
	return rec, func(c *andromeda.AddQuotaUsageConfig) {
		c.Cache = rec
		c.Option.Coalesce = true
	}
}

// 256 goroutines add to one hot key through the coalescer. Replaying the adds one by one,
// in the order the batches decided them, gives exactly the same outcomes; and every
// caller got the outcome of its own add.
func TestCoalescedAddsMatchOneByOne(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		const limit = 700
		db := newQuotaDB()
		db.put("hot", limit, 0)
		rec, coalesce := coalescing(b)
		add := newAdd(b, db, coalesce)
		b.set(t, keyOf("hot"), 0)

		var admitted, refused, admittedUnits atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := 0; g < 256; g++ {
			wg.Add(1)
			go func(seed int64) {
				defer wg.Done()
				rng := rand.New(rand.NewSource(seed))
				<-start
				for i := 0; i < 4; i++ {
					amount := 1 + rng.Int63n(3)
					_, err := add.Do(context.Background(), req("hot", amount))
					switch {
					case err == nil:
						admitted.Add(1)
						admittedUnits.Add(amount)
					case errors.Is(err, andromeda.ErrQuotaLimitExceeded):
						refused.Add(1)
					default:
						t.Error(err)
					}
				}
			}(int64(g))
		}
		close(start)
		wg.Wait()

		require.Len(t, rec.decided, 1024)
		assert.Greater(t, rec.largest, 1, "concurrent adds must have been sent together")
		assert.Less(t, rec.batches, 1024)
		usage := b.get(t, keyOf("hot"))
		assert.Equal(t, admittedUnits.Load(), usage)
		assert.LessOrEqual(t, usage, int64(limit))
		assert.Positive(t, refused.Load(), "the limit was reached")

		// Replay one by one on a fresh key.
		b.set(t, keyOf("replay"), 0)
		var appliedInReplay int64
		for i, args := range rec.decided {
			args.Key = keyOf("replay")
			res, err := storeOf(b.cache).AddUsage(context.Background(), args)
			require.NoError(t, err)
			require.Equal(t, rec.results[i], res, "add %d of %d", i, len(rec.decided))
			if res.Status == storetypes.CacheApplied {
				appliedInReplay++
			}
		}
		assert.Equal(t, admitted.Load(), appliedInReplay, "each caller got its own add's outcome")
		assert.Equal(t, usage, b.get(t, keyOf("replay")))
		t.Logf("1024 adds in %d batches (largest %d)", rec.batches, rec.largest)
	})
}

// Each caller keeps its own Next, undo and listener call inside a batch.
func TestCoalescedAddsKeepNextUndoAndListenerPerCaller(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := newQuotaDB()
		db.put("hot", 1000, 0)
		listener := &countingListener{}
		rec, coalesce := coalescing(b)
		add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) {
			coalesce(c)
			c.Option.Listener = listener
			c.Next = andromeda.UpdateQuotaUsageFunc(func(_ context.Context, r *andromeda.QuotaUsageRequest) (int64, error) {
				if r.Data == "fail" {
					return 0, errNext
				}
				return 0, nil
			})
		})
		var kept atomic.Int64
		var wg sync.WaitGroup
		for g := 0; g < 200; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				r := req("hot", 2)
				if g%3 == 0 {
					r.Data = "fail"
				}
				_, err := add.Do(context.Background(), r)
				if err == nil {
					kept.Add(2)
				} else if !errors.Is(err, errNext) {
					t.Error(err)
				}
			}(g)
		}
		wg.Wait()
		assert.Equal(t, kept.Load(), b.get(t, keyOf("hot")), "the failed ones were undone")
		assert.Equal(t, int64(200), listener.successes.Load()+listener.errors.Load())
		assert.Equal(t, int64(67), listener.errors.Load())
		assert.Positive(t, rec.batches)
	})
}

// A caller whose context ends while its add waits in the queue is left out of the batch.
func TestCoalescedCallerThatLeavesIsNotCounted(t *testing.T) {
	b := miniredisBackend(t)
	db := newQuotaDB()
	db.put("hot", 100, 0)
	b.set(t, keyOf("hot"), 0)
	rec, coalesce := coalescing(b)
	rec.entered, rec.release = make(chan int, 4), make(chan struct{})
	add := newAdd(b, db, coalesce)

	first := make(chan error, 1)
	go func() {
		_, err := add.Do(context.Background(), req("hot", 1))
		first <- err
	}()
	require.Equal(t, 1, <-rec.entered) // the first add is in flight, held

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err := add.Do(ctx, req("hot", 5)) // queued behind it, until its deadline
	require.ErrorIs(t, err, context.DeadlineExceeded)

	close(rec.release)
	require.NoError(t, <-first)
	assert.Equal(t, int64(1), b.get(t, keyOf("hot")), "the 5 that left was never sent")
	assert.Equal(t, 1, rec.batches)
}

// An add on a key with nothing in flight goes straight out as a plain add (AddUsage), and
// adds spread over many keys, one at a time per key, never build a batch.
func TestCoalescedAddAloneGoesStraightOut(t *testing.T) {
	b := miniredisBackend(t)
	db := newQuotaDB()
	rec, coalesce := coalescing(b)
	add := newAdd(b, db, coalesce)
	for i := 0; i < 20; i++ {
		quota := fmt.Sprint("q", i%5)
		if i < 5 {
			db.put(quota, 100, 0)
			b.set(t, keyOf(quota), 0)
		}
		usage, err := add.Do(context.Background(), req(quota, 2))
		require.NoError(t, err)
		assert.Equal(t, int64(2*(i/5+1)), usage)
	}
	assert.Equal(t, 20, rec.alone, "every add went alone")
	assert.Equal(t, 20, rec.batches)
	assert.Equal(t, 1, rec.largest)
}

// The batch is sent by the caller that may wait longest (here the one without a
// deadline); another caller of the batch whose deadline passes while it is in flight
// leaves at once, told the outcome is unknown, and the batch still decides its add.
func TestCoalescedCallerLeavesWhileAnotherSendsTheBatch(t *testing.T) {
	b := miniredisBackend(t)
	db := newQuotaDB()
	db.put("hot", 100, 0)
	b.set(t, keyOf("hot"), 0)
	rec, coalesce := coalescing(b)
	rec.entered, rec.release = make(chan int, 4), make(chan struct{})
	add := newAdd(b, db, coalesce)

	first := make(chan error, 1)
	go func() { _, err := add.Do(context.Background(), req("hot", 1)); first <- err }()
	require.Equal(t, 1, <-rec.entered) // in flight alone, held

	patient := make(chan error, 1)
	go func() { _, err := add.Do(context.Background(), req("hot", 2)); patient <- err }()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	hasty := make(chan error, 1)
	go func() { _, err := add.Do(ctx, req("hot", 4)); hasty <- err }()
	require.Eventually(t, func() bool { return b.get(t, keyOf("hot")) == 0 && len(rec.entered) == 0 }, time.Second, time.Millisecond)
	time.Sleep(20 * time.Millisecond) // both queued behind the first

	rec.release <- struct{}{}
	require.NoError(t, <-first)
	require.Equal(t, 2, <-rec.entered, "the two queued adds go as one batch")
	err := <-hasty // while the batch is held
	require.ErrorIs(t, err, andromeda.ErrUnknownOutcome)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	close(rec.release)
	require.NoError(t, <-patient)
	assert.Equal(t, int64(7), b.get(t, keyOf("hot")), "the batch decided both adds")
}
