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

// Concurrent cancels whose Next fails, concurrent with adds, on a known limit: every
// put-back is bounded; a cancel whose put-back is refused stays applied (ErrUndoFailed),
// one whose put-back went through changed nothing. Usage must end == claims kept (initial
// claims + adds admitted - cancels left applied), never above the limit.
func TestReview5ConcurrentFailingCancelsAndAdds(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cancelKey func(i int) string // "" unkeyed
		limitFunc bool
	}{
		{"unkeyed, GetQuotaLimit", func(int) string { return "" }, true},
		{"own key, GetQuotaLimit", func(i int) string { return fmt.Sprintf("cancel-%d", i) }, true},
		{"claim's key, GetQuotaLimit", func(i int) string { return fmt.Sprintf("claim-%d", i) }, true},
		{"claim's key, limit kept in Redis", func(i int) string { return fmt.Sprintf("claim-%d", i) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eachRealBackend(t, func(t *testing.T, b backend) {
				ctx := context.Background()
				const limit, initial, cancels, adds = 20, 20, 20, 40
				db := newQuotaDB()
				db.put("cc", limit, 0)
				add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) { c.Option.CacheLimit = !tc.limitFunc })
				for i := range initial {
					_, err := add.Do(ctx, idem("cc", 1, fmt.Sprintf("claim-%d", i)))
					require.NoError(t, err)
				}
				errNext := errors.New("deleting the claim row failed")
				cancel := newReduce(b, db, func(c *andromeda.ReduceQuotaUsageConfig) {
					if tc.limitFunc {
						c.GetQuotaLimit = db.limit()
					}
					c.Next = andromeda.UpdateQuotaUsageFunc(func(context.Context, *andromeda.QuotaUsageRequest) (int64, error) {
						return 0, errNext
					})
				})
				var admitted, leftApplied, other atomic.Int64
				var wg sync.WaitGroup
				for i := range cancels {
					wg.Add(1)
					go func() {
						defer wg.Done()
						_, err := cancel.Do(ctx, idem("cc", 1, tc.cancelKey(i)))
						switch {
						case errors.Is(err, andromeda.ErrUndoFailed):
							leftApplied.Add(1)
						case errors.Is(err, errNext):
						default:
							other.Add(1)
							t.Errorf("cancel %d: %v", i, err)
						}
					}()
				}
				for range adds {
					wg.Add(1)
					go func() {
						defer wg.Done()
						_, err := add.Do(ctx, req("cc", 1))
						if err == nil {
							admitted.Add(1)
						} else if !errors.Is(err, andromeda.ErrQuotaLimitExceeded) {
							t.Errorf("add: %v", err)
						}
					}()
				}
				wg.Wait()
				usage := b.get(t, keyOf("cc"))
				kept := initial + admitted.Load() - leftApplied.Load()
				t.Logf("admitted %d, cancels left applied %d, usage %d", admitted.Load(), leftApplied.Load(), usage)
				assert.LessOrEqual(t, usage, int64(limit), "oversold")
				assert.Equal(t, kept, usage, "usage != claims kept")
				assert.LessOrEqual(t, leftApplied.Load(), admitted.Load(), "more put-backs refused than units taken")
			})
		})
	}
}
