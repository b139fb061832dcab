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

// The README's hold flow (reserve, save the order, commit or cancel) end to end under
// failure: default-options clients through the proxy dropping 10% of replies, 256 orders
// at once, the usage evicted or written back (ReadCachedUsages' Usage, holds left out) and
// forgotten every few ms, a loader that counts committed orders and those in flight, every unknown outcome
// retried with the order's key. An order whose commit finds its hold expired (its usage
// was lost) fails. Then, with no hold open, the quota is forgotten, warmed (WarmQuotas),
// and orders continue until sold out.
//
// The promises: never oversold; the usage Redis reports counts at least the units
// committed; after the reload it equals them, and the quota sells out at exactly its
// limit; one listener call per Do; every error typed.
func TestReview7HoldFlowUnderEvictionsAndLostReplies(t *testing.T) {
	redistest.Require(t)
	const key = "review7:{holds}:usage"
	const limit, orders, workers = 400, 900, 256
	for _, adapter := range defaultClientCaches[:2] {
		t.Run(adapter.name, func(t *testing.T) {
			rig := newResendRig(t, adapter.cache)
			var committed atomic.Int64
			var written atomic.Int64 // the database's usage column, from the write-back
			// The loader counts the orders committed and those in flight (a commit whose
			// reply was lost may have committed the hold before the usage was lost), as the
			// README asks of a loader.
			book := newClaimBook()
			loader := book.usage()
			listener := &r7Counter{}
			var dos atomic.Int64
			pace := andromeda.GetQuotaUsageConfig{LockIn: 300 * time.Millisecond, MaxRetry: 20, RetryIn: 10 * time.Millisecond}
			quota := andromeda.Quota{GetQuotaLimit: constLimit(limit), GetQuotaUsage: loader, GetQuotaUsageKey: constKey(key),
				GetQuotaUsageExpiration: expireIn(time.Hour)}
			holds := andromeda.NewQuotaHolds(andromeda.QuotaHoldsConfig{Cache: rig.cache, Quota: quota, HoldFor: time.Minute,
				GetQuotaUsageConfig: pace, Listener: listener})
			warm := andromeda.AddQuotaUsageConfig{Cache: rig.cache, GetQuotaLimit: quota.GetQuotaLimit, GetQuotaUsage: loader,
				GetQuotaUsageKey: quota.GetQuotaUsageKey, GetQuotaUsageExpiration: quota.GetQuotaUsageExpiration, GetQuotaUsageConfig: pace}

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
			var soldOut, expired, cancelled atomic.Int64
			order := func(id string, rng *rand.Rand, cancelRate int) {
				r := &andromeda.QuotaUsageRequest{QuotaID: "h", Usage: 1, IdempotencyKey: id}
				book.begin(id)
				kept := false
				defer func() { book.end(id, kept) }()
				err := do(holds.Reserve, r)
				switch {
				case errors.Is(err, andromeda.ErrQuotaLimitExceeded):
					soldOut.Add(1)
					return
				case errors.Is(err, andromeda.ErrHoldExpired): // reserved, then the usage was lost
					expired.Add(1)
					return
				case err != nil:
					noteOdd(fmt.Errorf("reserve %s: %w", id, err))
					return
				}
				if rng.Intn(100) < cancelRate {
					if err := do(holds.Cancel, r); err != nil {
						noteOdd(fmt.Errorf("cancel %s: %w", id, err))
					}
					cancelled.Add(1)
					return
				}
				err = do(holds.Commit, r)
				switch {
				case err == nil:
					committed.Add(1)
					kept = true
				case errors.Is(err, andromeda.ErrHoldExpired):
					expired.Add(1)
				default:
					noteOdd(fmt.Errorf("commit %s: %w", id, err))
				}
			}

			stop := make(chan struct{})
			var chaos sync.WaitGroup
			chaos.Add(1)
			go func() {
				defer chaos.Done()
				rng := rand.New(rand.NewSource(3))
				for {
					select {
					case <-stop:
						return
					case <-time.After(time.Duration(5+rng.Intn(20)) * time.Millisecond):
					}
					ctx := context.Background()
					if rng.Intn(2) == 0 {
						_ = rig.direct.Del(ctx, key).Err()
						continue
					}
					usages, err := andromeda.ReadCachedUsages(ctx, rig.cache, constKey(key), []*andromeda.QuotaRequest{{QuotaID: "h"}})
					if err == nil && usages[0].Found {
						written.Store(usages[0].Usage)
						_, _, _ = andromeda.ForgetUsage(ctx, rig.cache, key)
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
					for i := next.Add(1) - 1; i < orders; i = next.Add(1) - 1 {
						order(fmt.Sprint("order-", i), rng, 25)
					}
				}(w)
			}
			wg.Wait()
			close(stop)
			chaos.Wait()
			rig.proxy.SetDropRate(0)
			t.Logf("phase 1: committed %d, cancelled %d, expired %d, sold out %d, loads %d; usage %d",
				committed.Load(), cancelled.Load(), expired.Load(), soldOut.Load(), book.loads.Load(), rig.usage(t, key))
			assert.LessOrEqual(t, committed.Load(), int64(limit), "never oversold")

			_, _, err := andromeda.ForgetUsage(context.Background(), rig.cache, key)
			require.NoError(t, err)
			require.NoError(t, andromeda.WarmQuotas(context.Background(), warm, []andromeda.QuotaRequest{{QuotaID: "h"}}, andromeda.WarmOptions{}))
			rng := rand.New(rand.NewSource(5))
			for i := 0; i < limit+10; i++ {
				order(fmt.Sprint("late-", i), rng, 0)
			}
			usage := rig.usage(t, key)
			t.Logf("phase 2: committed %d, usage %d; Do calls %d, listener calls %d", committed.Load(), usage, dos.Load(), listener.calls.Load())
			assert.Empty(t, odd, "every error is an outcome or one the README says to retry")
			assert.Equal(t, int64(limit), committed.Load(), "sold out at exactly the limit")
			assert.Equal(t, committed.Load(), usage, "usage == units committed")
			assert.Equal(t, dos.Load(), listener.calls.Load(), "one listener call per Do")
		})
	}
}
