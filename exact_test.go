package andromeda_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// maxAmount is 2^53, the largest usage, limit and amount.
const maxAmount = andromeda.MaxAmount

// At the edge of MaxAmount every decision is exact: a double would take 2^53-1 + 2 for
// 2^53 and admit it against a limit of 2^53 (and store 2^53+1).
func TestExactAtMaxAmount(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		db := newQuotaDB()
		db.put("q", maxAmount, 0)
		add, reduce := newAdd(b, db, nil), newReduce(b, db, nil)

		b.set(t, keyOf("q"), maxAmount-1)
		_, err := add.Do(ctx, req("q", 2))
		var qerr *andromeda.QuotaError
		require.ErrorAs(t, err, &qerr)
		require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded)
		assert.Equal(t, int64(maxAmount-1), qerr.Usage)
		assert.Equal(t, int64(maxAmount-1), b.get(t, keyOf("q")))
		usage, err := add.Do(ctx, req("q", 1))
		require.NoError(t, err)
		assert.Equal(t, int64(maxAmount), usage)
		_, err = add.Do(ctx, req("q", 1))
		require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded)
		assert.Equal(t, int64(maxAmount), b.get(t, keyOf("q")))

		usage, err = reduce.Do(ctx, req("q", maxAmount))
		require.NoError(t, err)
		assert.Zero(t, usage)
		usage, err = add.Do(ctx, req("q", maxAmount))
		require.NoError(t, err, "the whole range in one add")
		assert.Equal(t, int64(maxAmount), usage)
		b.set(t, keyOf("q"), maxAmount-1)
		_, err = reduce.Do(ctx, req("q", maxAmount))
		require.ErrorIs(t, err, andromeda.ErrInvalidMinQuotaUsage)
		assert.Equal(t, int64(maxAmount-1), b.get(t, keyOf("q")))

		// Beyond MaxAmount: refused before Redis, for a request and for a limit.
		_, err = add.Do(ctx, req("q", maxAmount+1))
		require.ErrorIs(t, err, andromeda.ErrInvalidRequest)
		_, err = reduce.Do(ctx, req("q", maxAmount+1))
		require.ErrorIs(t, err, andromeda.ErrInvalidRequest)
		db.put("q", maxAmount+1, 0)
		_, err = add.Do(ctx, req("q", 1))
		require.ErrorIs(t, err, andromeda.ErrInvalidRequest)
		// A stored 2^53+1 is not a usage.
		b.set(t, keyOf("q"), "9007199254740993")
		db.put("q", maxAmount, 0)
		_, err = add.Do(ctx, req("q", 1))
		require.ErrorIs(t, err, andromeda.ErrInvalidCachedUsage)
		_, err = reduce.Do(ctx, req("q", 1))
		require.ErrorIs(t, err, andromeda.ErrInvalidCachedUsage)
		assert.Equal(t, "9007199254740993", b.client.Get(ctx, keyOf("q")).Val())
	})
}

// One unit left below 2^53: of 64 concurrent coalesced adds of 1, exactly one is admitted;
// with a limit kept in Redis too.
func TestExactAtMaxAmountCoalesced(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		for _, cacheLimit := range []bool{false, true} {
			db := newQuotaDB()
			db.put("q", maxAmount, 0)
			b.flush(t)
			b.set(t, keyOf("q"), maxAmount-1)
			rec, coalesce := coalescing(b)
			add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) {
				coalesce(c)
				c.Option.CacheLimit = cacheLimit
			})
			var admitted, refused atomic.Int64
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := 0; i < 64; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					usage, err := add.Do(context.Background(), req("q", 1))
					switch {
					case err == nil:
						admitted.Add(1)
						assert.Equal(t, int64(maxAmount), usage)
					case errors.Is(err, andromeda.ErrQuotaLimitExceeded):
						refused.Add(1)
					default:
						t.Error(err)
					}
				}()
			}
			close(start)
			wg.Wait()
			assert.Equal(t, int64(1), admitted.Load(), "CacheLimit %v", cacheLimit)
			assert.Equal(t, int64(63), refused.Load())
			assert.Equal(t, int64(maxAmount), b.get(t, keyOf("q")))
			rec.mu.Lock()
			assert.Greater(t, rec.largest, 1, "the adds went in batches")
			rec.mu.Unlock()
		}
	})
}

// AddMultiQuotaUsage and ReduceMultiQuotaUsage decide exactly at 2^53 on every quota.
func TestExactAtMaxAmountSeveralQuotas(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		db := newQuotaDB()
		db.put("campaign-42", 0, 0)
		quotas := campaignQuotas(maxAmount, maxAmount, db)
		add := andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: quotas, GetQuotaUsageConfig: fastRetry})
		reduce := andromeda.ReduceMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: quotas, GetQuotaUsageConfig: fastRetry})
		claim := func(amount int64) *andromeda.QuotaUsageRequest {
			return &andromeda.QuotaUsageRequest{QuotaID: "campaign-42", Usage: amount, Data: "ann"}
		}
		b.set(t, "{campaign-42}:usage", 0)
		b.set(t, "{campaign-42}:user:ann", maxAmount-1)

		_, err := add.Do(ctx, claim(2))
		var qerr *andromeda.QuotaError
		require.ErrorAs(t, err, &qerr)
		require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded)
		assert.Equal(t, "{campaign-42}:user:ann", qerr.Key)
		assert.Equal(t, int64(maxAmount-1), qerr.Usage)
		assert.Zero(t, b.get(t, "{campaign-42}:usage"), "all or nothing")
		usage, err := add.Do(ctx, claim(1))
		require.NoError(t, err)
		assert.Equal(t, int64(1), usage)
		_, err = add.Do(ctx, claim(1))
		require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded)
		assert.Equal(t, int64(maxAmount), b.get(t, "{campaign-42}:user:ann"))

		_, err = reduce.Do(ctx, claim(2))
		require.ErrorIs(t, err, andromeda.ErrInvalidMinQuotaUsage, "the campaign holds 1")
		b.set(t, "{campaign-42}:usage", maxAmount)
		usage, err = reduce.Do(ctx, claim(maxAmount))
		require.NoError(t, err)
		assert.Zero(t, usage)
		assert.Zero(t, b.get(t, "{campaign-42}:user:ann"))
		_, err = add.Do(ctx, claim(maxAmount+1))
		require.ErrorIs(t, err, andromeda.ErrInvalidRequest)
	})
}
