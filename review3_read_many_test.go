package andromeda_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ReadCachedUsages over many quotas (untagged keys spread over a cluster's slots, some
// with holds, some absent): each one's Usage is committed usage, Held its holds, Found
// false for the absent; a cancelled context fails it with no goroutine left behind.
func TestReview3ReadManyQuotas(t *testing.T) {
	untagged := andromeda.GetQuotaKeyFunc(func(_ context.Context, r *andromeda.QuotaRequest) (string, error) {
		return "rm-" + r.QuotaID, nil
	})
	eachRealBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		db := newQuotaDB()
		holds := andromeda.NewQuotaHolds(andromeda.QuotaHoldsConfig{Cache: b.cache, HoldFor: time.Minute,
			Quota: andromeda.Quota{GetQuotaLimit: db.limit(), GetQuotaUsage: db.usage(), GetQuotaUsageKey: untagged}})
		add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) { c.GetQuotaUsageKey = untagged })
		var quotas []*andromeda.QuotaRequest
		for i := 0; i < 53; i++ {
			id := fmt.Sprintf("q%d", i)
			db.put(id, 100, int64(i))
			quotas = append(quotas, &andromeda.QuotaRequest{QuotaID: id})
			if i%5 == 4 {
				continue // never loaded
			}
			_, err := add.Do(ctx, req(id, 1))
			require.NoError(t, err)
			if i%3 == 0 {
				_, err = holds.Reserve.Do(ctx, idem(id, 2, "h"+id))
				require.NoError(t, err)
			}
		}
		usages, err := andromeda.ReadCachedUsages(ctx, b.cache, untagged, quotas)
		require.NoError(t, err)
		for i, u := range usages {
			if i%5 == 4 {
				assert.False(t, u.Found, u.QuotaID)
				continue
			}
			held := int64(0)
			if i%3 == 0 {
				held = 2
			}
			assert.True(t, u.Found, u.QuotaID)
			assert.Equal(t, int64(i+1), u.Usage, u.QuotaID)
			assert.Equal(t, held, u.Held, u.QuotaID)
		}
		before := runtime.NumGoroutine()
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err = andromeda.ReadCachedUsages(cctx, b.cache, untagged, quotas)
		assert.Error(t, err) // (it does not wrap context.Canceled: see the report)
		t.Logf("cancelled read: %v", err)
		time.Sleep(100 * time.Millisecond)
		assert.LessOrEqual(t, runtime.NumGoroutine(), before+2)
	})
}
