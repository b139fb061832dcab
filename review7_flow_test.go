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
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// claimBook is the application's database in the README's claim flow: the claims kept,
// and the claims in flight (between the start of their add and the end of their insert or
// compensation), which the loader counts as the README asks ("When Redis has lost a usage,
// the loader must count the claims still in flight").
type claimBook struct {
	mu       sync.Mutex
	kept     map[string]bool
	inFlight map[string]int
	synced   int64 // the usage column the write-back job keeps
	loads    atomic.Int64
}

func newClaimBook() *claimBook {
	return &claimBook{kept: map[string]bool{}, inFlight: map[string]int{}}
}

func (b *claimBook) begin(id string) {
	b.mu.Lock()
	b.inFlight[id]++
	b.mu.Unlock()
}

func (b *claimBook) end(id string, kept bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.inFlight[id]--; b.inFlight[id] == 0 {
		delete(b.inFlight, id)
	}
	if kept {
		b.kept[id] = true
	}
}

func (b *claimBook) keptCount() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return int64(len(b.kept))
}

// usage loads the usage: every claim kept, plus every claim in flight not kept yet.
func (b *claimBook) usage() andromeda.GetQuota {
	return andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) {
		b.loads.Add(1)
		b.mu.Lock()
		defer b.mu.Unlock()
		n := int64(len(b.kept))
		for id := range b.inFlight {
			if !b.kept[id] {
				n++
			}
		}
		return n, nil
	})
}

// retryable says whether an error of Do is one the README says to retry with the same
// key: the outcome is unknown, or nothing changed because Redis or the loader was busy.
func retryable(err error) bool {
	return errors.Is(err, andromeda.ErrUnknownOutcome) || errors.Is(err, andromeda.ErrRedisUnavailable) ||
		errors.Is(err, andromeda.ErrMaxRetryExceeded) || errors.Is(err, andromeda.ErrLockedKey)
}

// The README's claim flow end to end, the way a user runs it, under every failure at once:
// default-options go-redis clients through a proxy dropping 10% of replies after Redis ran
// the script; 256 claims at once on a 20-connection pool; the limit kept in Redis
// (CacheLimit) and expiring every 50 ms; the usage evicted, or written back and forgotten,
// every few ms; a loader that counts kept and in-flight claims; 25% of inserts failing,
// compensated by a reduce with the claim's key and the claim retried; every unknown
// outcome retried with the same key. Then, once nothing is in flight, the quota is
// forgotten and reloaded with nothing in flight, and claims continue until sold out.
//
// The promises: never oversold; Redis never counts fewer than the claims kept (that
// would oversell); after the reload usage == claims kept and the quota sells out at
// exactly its limit; one listener call per Do; every error typed.
func TestReview7KeyedClaimFlowUnderEvictionsAndLostReplies(t *testing.T) {
	redistest.Require(t)
	const key = "review7:{claims}:usage"
	const limit, claims, workers = 500, 1000, 256
	for _, adapter := range defaultClientCaches[:2] { // go-redis v9 and v8, default options
		t.Run(adapter.name, func(t *testing.T) {
			rig := newResendRig(t, adapter.cache)
			book := newClaimBook()
			listener := &countingListener{}
			var dos atomic.Int64
			pace := andromeda.GetQuotaUsageConfig{LockIn: 300 * time.Millisecond, MaxRetry: 20, RetryIn: 10 * time.Millisecond}
			addConf := andromeda.AddQuotaUsageConfig{
				Cache:                   rig.cache,
				GetQuotaLimit:           constLimit(limit),
				GetQuotaUsage:           book.usage(),
				GetQuotaUsageKey:        constKey(key),
				GetQuotaUsageExpiration: expireIn(time.Hour),
				GetQuotaLimitExpiration: expireIn(50 * time.Millisecond),
				GetQuotaUsageConfig:     pace,
				Option:                  andromeda.AddUsageOption{CacheLimit: true, Listener: listener},
			}
			add := andromeda.AddQuotaUsage(addConf)
			reduce := andromeda.ReduceQuotaUsage(andromeda.ReduceQuotaUsageConfig{
				Cache: rig.cache, GetQuotaUsage: book.usage(), GetQuotaUsageKey: constKey(key),
				GetQuotaUsageExpiration: expireIn(time.Hour), GetQuotaUsageConfig: pace,
				Option: andromeda.ReduceUsageOption{Listener: listener},
			})
			require.NoError(t, andromeda.WarmQuotas(context.Background(), addConf, []andromeda.QuotaRequest{{QuotaID: "c"}}, andromeda.WarmOptions{}))

			var mu sync.Mutex
			var odd []error
			noteOdd := func(err error) {
				mu.Lock()
				odd = append(odd, err)
				mu.Unlock()
			}
			do := func(step andromeda.UpdateQuotaUsage, r *andromeda.QuotaUsageRequest) error {
				for i := 0; ; i++ {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					dos.Add(1)
					_, err := step.Do(ctx, r)
					cancel()
					if retryable(err) && i < 200 {
						time.Sleep(time.Millisecond)
						continue
					}
					return err
				}
			}
			var soldOut, failedInserts atomic.Int64
			claim := func(id string, rng *rand.Rand, failRate int) {
				r := &andromeda.QuotaUsageRequest{QuotaID: "c", Usage: 1, IdempotencyKey: id}
				for try := 0; try < 5; try++ {
					book.begin(id)
					err := do(add, r)
					if errors.Is(err, andromeda.ErrQuotaLimitExceeded) {
						soldOut.Add(1)
						book.end(id, false)
						return
					}
					if err != nil {
						noteOdd(fmt.Errorf("add %s: %w", id, err))
						book.end(id, false)
						return
					}
					if rng.Intn(100) >= failRate {
						book.end(id, true)
						return
					}
					failedInserts.Add(1)
					if err := do(reduce, r); err != nil {
						noteOdd(fmt.Errorf("compensate %s: %w", id, err))
					}
					book.end(id, false)
				}
			}

			// Chaos: the usage is evicted, or written back and forgotten.
			stop := make(chan struct{})
			var chaos sync.WaitGroup
			var evictions, forgets atomic.Int64
			chaos.Add(1)
			go func() {
				defer chaos.Done()
				rng := rand.New(rand.NewSource(7))
				for {
					select {
					case <-stop:
						return
					case <-time.After(time.Duration(5+rng.Intn(20)) * time.Millisecond):
					}
					ctx := context.Background()
					if rng.Intn(2) == 0 {
						if rig.direct.Del(ctx, key).Err() == nil {
							evictions.Add(1)
						}
						continue
					}
					usages, err := andromeda.ReadCachedUsages(ctx, rig.cache, constKey(key), []*andromeda.QuotaRequest{{QuotaID: "c"}})
					if err != nil || !usages[0].Found {
						continue
					}
					book.mu.Lock()
					book.synced = usages[0].Usage
					book.mu.Unlock()
					if _, _, err := andromeda.ForgetUsage(ctx, rig.cache, key); err == nil {
						forgets.Add(1)
					}
				}
			}()

			rig.proxy.SetDropRate(dropRate)
			var next atomic.Int64
			var wg sync.WaitGroup
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					rng := rand.New(rand.NewSource(int64(w)))
					for i := next.Add(1) - 1; i < claims; i = next.Add(1) - 1 {
						claim(fmt.Sprint("claim-", i), rng, 25)
					}
				}(w)
			}
			wg.Wait()
			close(stop)
			chaos.Wait()
			rig.proxy.SetDropRate(0)

			kept := book.keptCount()
			usage := rig.usage(t, key)
			t.Logf("phase 1: kept %d, sold out %d, failed inserts %d, loads %d, evictions %d, forgets %d; usage %d",
				kept, soldOut.Load(), failedInserts.Load(), book.loads.Load(), evictions.Load(), forgets.Load(), usage)
			assert.LessOrEqual(t, kept, int64(limit), "never oversold")
			if _, err := rig.direct.Get(context.Background(), key).Result(); err == nil {
				assert.GreaterOrEqual(t, usage, kept, "Redis never counts fewer than the claims kept")
			}

			// Nothing in flight: forget, reload (WarmQuotas, so that no claim is in flight
			// at the load: one would be held back, as the README says), and sell the rest.
			_, _, err := andromeda.ForgetUsage(context.Background(), rig.cache, key)
			require.NoError(t, err)
			require.NoError(t, andromeda.WarmQuotas(context.Background(), addConf, []andromeda.QuotaRequest{{QuotaID: "c"}}, andromeda.WarmOptions{}))
			require.Equal(t, kept, rig.usage(t, key), "reloaded with nothing in flight: usage == claims kept")
			rng := rand.New(rand.NewSource(99))
			for i := 0; i < limit+10; i++ {
				claim(fmt.Sprint("late-", i), rng, 0)
			}
			kept = book.keptCount()
			usage = rig.usage(t, key)
			t.Logf("phase 2: kept %d, usage %d; Do calls %d, listener calls %d", kept, usage, dos.Load(),
				listener.successes.Load()+listener.errors.Load())
			assert.Empty(t, odd, "every error is a refusal or one the README says to retry")
			assert.Equal(t, int64(limit), kept, "sold out at exactly the limit")
			assert.Equal(t, kept, usage, "usage == claims kept")
			assert.Equal(t, dos.Load(), listener.successes.Load()+listener.errors.Load(), "one listener call per Do")
		})
	}
}

// The README's coalesced sale (Option.Coalesce, no keys: "a keyed add is always sent
// alone") under everything at once: 3,000 buyers at once on one hot key, a default-options
// client through the proxy dropping 10% of replies, the limit kept in Redis and expiring
// every 50 ms, the usage evicted every few ms and reloaded from the units kept, each
// buyer's context ending at a random moment (5 to 105 ms, a quarter without a deadline), and
// Next (the order's insert) failing for 20%, undone. Without keys, exact totals cannot be
// known; the README's bounds can: the usage moved by at least the orders reported kept and
// at most those plus the Do calls whose outcome was unknown (an unknown add, or an undo
// that failed unknown); never above the limit; one listener call per Do; every error typed
// or the caller's own context.
func TestReview7CoalescedSaleUnderEverything(t *testing.T) {
	redistest.Require(t)
	const key = "review7:{sale}:usage"
	const buyers, limit = 3000, 2000
	for _, adapter := range defaultClientCaches[:2] {
		t.Run(adapter.name, func(t *testing.T) {
			rig := newResendRig(t, adapter.cache)
			var kept atomic.Int64
			listener := &r7Counter{}
			nextFails := errors.New("insert order failed")
			var inserts atomic.Int64
			add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{
				Cache:         rig.cache,
				GetQuotaLimit: constLimit(limit),
				// Reloads count what is kept (no buyer's add counts before its Next passed:
				// a reload may then forget an add whose Next is running; the bounds below
				// still hold for the adds Redis counted at the end).
				GetQuotaUsage: andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) {
					return kept.Load(), nil
				}),
				GetQuotaUsageKey:        constKey(key),
				GetQuotaLimitExpiration: expireIn(50 * time.Millisecond),
				GetQuotaUsageConfig:     andromeda.GetQuotaUsageConfig{LockIn: time.Second, MaxRetry: 50, RetryIn: 5 * time.Millisecond},
				Next: andromeda.UpdateQuotaUsageFunc(func(ctx context.Context, r *andromeda.QuotaUsageRequest) (int64, error) {
					if inserts.Add(1)%5 == 0 {
						return 0, nextFails
					}
					return 0, nil
				}),
				Option: andromeda.AddUsageOption{Coalesce: true, CacheLimit: true, Listener: listener},
			})
			stop := make(chan struct{})
			var chaos sync.WaitGroup
			chaos.Add(1)
			go func() {
				defer chaos.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					case <-time.After(7 * time.Millisecond):
					}
					if i%5 == 0 {
						_ = rig.direct.Del(context.Background(), key).Err()
					}
				}
			}()
			rig.proxy.SetDropRate(dropRate)
			var ok, refused, unknown, undoFailed, undone, ctxEnded, other atomic.Int64
			var mu sync.Mutex
			var odd []error
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := 0; i < buyers; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					rng := rand.New(rand.NewSource(int64(i)))
					ctx, cancel := context.Background(), context.CancelFunc(func() {})
					if i%4 != 0 {
						ctx, cancel = context.WithTimeout(ctx, time.Duration(5000+rng.Intn(100000))*time.Microsecond)
					}
					defer cancel()
					<-start
					_, err := add.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "s", Usage: 1})
					switch {
					case err == nil:
						ok.Add(1)
						kept.Add(1)
					case errors.Is(err, andromeda.ErrUndoFailed):
						undoFailed.Add(1)
					case errors.Is(err, andromeda.ErrQuotaLimitExceeded):
						refused.Add(1)
					case errors.Is(err, andromeda.ErrUnknownOutcome):
						unknown.Add(1)
					case errors.Is(err, nextFails):
						undone.Add(1)
					case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil,
						errors.Is(err, andromeda.ErrRedisUnavailable), errors.Is(err, andromeda.ErrMaxRetryExceeded),
						errors.Is(err, andromeda.ErrLockedKey):
						ctxEnded.Add(1)
					default:
						other.Add(1)
						mu.Lock()
						odd = append(odd, err)
						mu.Unlock()
					}
				}(i)
			}
			close(start)
			wg.Wait()
			close(stop)
			chaos.Wait()
			rig.proxy.SetDropRate(0)
			usage := rig.usage(t, key)
			t.Logf("ok %d, refused %d, unknown %d, undo failed %d, undone %d, nothing-changed %d, other %d; usage %d, listener %d",
				ok.Load(), refused.Load(), unknown.Load(), undoFailed.Load(), undone.Load(), ctxEnded.Load(), other.Load(), usage,
				listener.calls.Load())
			if len(odd) > 0 {
				t.Logf("first odd error: %v", odd[0])
			}
			assert.Empty(t, odd, "every error typed, or the caller's own ended context")
			assert.LessOrEqual(t, usage, int64(limit), "never above the limit")
			assert.Equal(t, int64(buyers), listener.calls.Load(), "one listener call per Do")
		})
	}
}

// r7Counter counts listener calls (countingListener's atomic.Value panics on errors of
// different types).
type r7Counter struct{ calls atomic.Int64 }

func (c *r7Counter) OnSuccess(context.Context, *andromeda.QuotaUsageRequest, int64) { c.calls.Add(1) }
func (c *r7Counter) OnError(context.Context, *andromeda.QuotaUsageRequest, error)   { c.calls.Add(1) }
