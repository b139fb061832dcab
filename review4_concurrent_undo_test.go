package andromeda_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Review 4, attack that held: 20 cancels (plain, compensations with the claim's key, and
// refunds with their own key) run at once on a full quota of 20; all their Nexts fail,
// after 5 other adds took 5 of the freed units. Exactly 5 put-backs are refused
// (ErrUndoFailed, never ErrQuotaLimitExceeded), the other 15 are undone, usage ends at 20.
func TestReview4ConcurrentFailedCancelsRefuseOnlyTheTakenUnits(t *testing.T) {
	for _, mode := range []string{"plain", "claim key", "own key", "limit kept in Redis"} {
		t.Run(mode, func(t *testing.T) {
			eachRealBackend(t, func(t *testing.T, b backend) {
				ctx := context.Background()
				const n, taken = 20, 5
				db := newQuotaDB()
				db.put("cc", n, 0)
				add := newAdd(b, db, nil)
				for i := 0; i < n; i++ {
					_, err := add.Do(ctx, idem("cc", 1, fmt.Sprintf("claim-%d", i)))
					require.NoError(t, err)
				}
				if mode == "limit kept in Redis" {
					require.NoError(t, andromeda.SetQuotaLimit(ctx, b.cache, keyOf("cc"), n, 0))
				}
				var reduced sync.WaitGroup
				reduced.Add(n)
				others := make(chan struct{})
				go func() {
					reduced.Wait()
					for i := 0; i < taken; i++ {
						_, err := add.Do(ctx, req("cc", 1))
						assert.NoError(t, err)
					}
					close(others)
				}()
				errNext := errors.New("deleting the claim failed")
				cancel := newReduce(b, db, func(c *andromeda.ReduceQuotaUsageConfig) {
					if mode != "limit kept in Redis" {
						c.GetQuotaLimit = db.limit()
					}
					c.Next = andromeda.UpdateQuotaUsageFunc(func(context.Context, *andromeda.QuotaUsageRequest) (int64, error) {
						reduced.Done()
						<-others
						return 0, errNext
					})
				})
				var undoFailed, undone atomic.Int64
				var wg sync.WaitGroup
				for i := 0; i < n; i++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						r := req("cc", 1)
						switch mode {
						case "claim key":
							r = idem("cc", 1, fmt.Sprintf("claim-%d", i))
						case "own key":
							r = idem("cc", 1, fmt.Sprintf("refund-%d", i))
						}
						_, err := cancel.Do(ctx, r)
						assert.ErrorIs(t, err, errNext)
						assert.NotErrorIs(t, err, andromeda.ErrQuotaLimitExceeded)
						if errors.Is(err, andromeda.ErrUndoFailed) {
							undoFailed.Add(1)
						} else {
							undone.Add(1)
						}
					}()
				}
				wg.Wait()
				assert.Equal(t, int64(taken), undoFailed.Load())
				assert.Equal(t, int64(n-taken), undone.Load())
				assert.Equal(t, int64(n), b.get(t, keyOf("cc")))
			})
		})
	}
}
