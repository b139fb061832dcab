package andromeda_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
)

// Guarantee 10 for the whole hold flow, not only reserves: default-options clients through
// a proxy dropping 10% of replies after Redis ran the script, orders that reserve 1 to 3,
// then commit (half), cancel (three in ten) or abandon the hold (the rest, ending after
// 150 ms), against a limit of 150 with a database holding 20 already. The application
// settles every step whose outcome stays unknown by repeating it with the order's ID, as
// the README says. Once every hold ended and was released, the usage is exactly the
// database's 20 plus the committed units, and never above the limit.
func TestReview9HoldFlowThroughLostReplies(t *testing.T) {
	skipLongInShort(t)
	for _, cc := range defaultClientCaches {
		if cc.name != "v9" && cc.name != "rueidis" {
			continue
		}
		t.Run(cc.name, func(t *testing.T) {
			rig := newResendRig(t, cc.cache)
			const key = "quota:{held-sale}:usage"
			const limit, initial = 150, 20
			holds := andromeda.NewQuotaHolds(andromeda.QuotaHoldsConfig{
				Cache: rig.cache,
				Quota: andromeda.Quota{
					GetQuotaLimit: constLimit(limit),
					GetQuotaUsage: andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) {
						return initial, nil
					}),
					GetQuotaUsageKey: constKey(key),
				},
				GetQuotaUsageConfig: andromeda.GetQuotaUsageConfig{LockIn: 200 * time.Millisecond},
				HoldFor:             150 * time.Millisecond,
			})
			// settle repeats a step with the order's ID while its outcome is unknown.
			settle := func(step andromeda.UpdateQuotaUsage, order *andromeda.QuotaUsageRequest) error {
				var err error
				for try := 0; try < 20; try++ {
					ctx, cancel := context.WithTimeout(context.Background(), time.Second)
					_, err = step.Do(ctx, order)
					cancel()
					if err == nil || !(errors.Is(err, andromeda.ErrUnknownOutcome) || errors.Is(err, andromeda.ErrRedisUnavailable) || errors.Is(err, andromeda.ErrLockedKey)) {
						return err
					}
				}
				return err
			}
			var committed, cancelled, abandoned, refused, expiredCommits, unsettled atomic.Int64
			var odd sync.Map
			rig.proxy.SetDropRate(dropRate)
			var seq atomic.Int64
			var wg sync.WaitGroup
			deadline := time.Now().Add(3 * time.Second)
			for w := 0; w < 16; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for time.Now().Before(deadline) {
						n := seq.Add(1)
						order := &andromeda.QuotaUsageRequest{QuotaID: "held-sale", Usage: 1 + n%3, IdempotencyKey: fmt.Sprint("order-", n)}
						err := settle(holds.Reserve, order)
						switch {
						case errors.Is(err, andromeda.ErrQuotaLimitExceeded):
							refused.Add(1)
							time.Sleep(10 * time.Millisecond)
							continue
						case errors.Is(err, andromeda.ErrHoldExpired):
							// Made, its reply lost, and repeated after its 150 ms were over
							// (a loaded CI run): the repeat says so, and it was released.
							abandoned.Add(1)
							continue
						case err != nil:
							unsettled.Add(1)
							odd.Store("reserve: "+err.Error(), true)
							continue
						}
						switch n % 10 {
						case 0, 1, 2, 3, 4:
							err = settle(holds.Commit, order)
							switch {
							case err == nil:
								committed.Add(order.Usage)
							case errors.Is(err, andromeda.ErrHoldExpired):
								expiredCommits.Add(1)
							default:
								unsettled.Add(1)
								odd.Store("commit: "+err.Error(), true)
							}
						case 5, 6, 7:
							if err = settle(holds.Cancel, order); err != nil {
								unsettled.Add(1)
								odd.Store("cancel: "+err.Error(), true)
							} else {
								cancelled.Add(1)
							}
						default:
							abandoned.Add(1)
						}
					}
				}()
			}
			wg.Wait()
			rig.proxy.SetDropRate(0)
			time.Sleep(300 * time.Millisecond) // every hold has ended
			usage, found, err := andromeda.ReleaseExpiredHolds(context.Background(), rig.cache, key)
			assert.NoError(t, err)
			assert.True(t, found)
			accepted, cut := rig.proxy.Stats()
			odd.Range(func(k, _ any) bool { t.Errorf("unsettled: %v", k); return true })
			t.Logf("orders %d: committed %d units, %d cancelled, %d abandoned, %d refused, %d commits after expiry, %d unsettled; usage %d; proxy cut %d of %d",
				seq.Load(), committed.Load(), cancelled.Load(), abandoned.Load(), refused.Load(), expiredCommits.Load(), unsettled.Load(), usage, cut, accepted)
			assert.Equal(t, initial+committed.Load(), usage, "usage = initial + committed units once every hold ended")
			assert.LessOrEqual(t, usage, int64(limit))
			assert.Greater(t, cut, int64(20), "replies really were dropped")
		})
	}
}
