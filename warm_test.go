package andromeda_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// WarmQuotas loads every cold quota once (usage and cached limit), leaves warm ones as
// they are, reports each quota to Progress, and names the ones that failed; two warmers
// at once (two processes) still load each quota once, and the first add needs no load.
func TestWarmQuotas(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := newQuotaDB()
		var quotas []andromeda.QuotaRequest
		for i := 0; i < 200; i++ {
			id := fmt.Sprint("warm-", i)
			db.put(id, 100, int64(i%7))
			quotas = append(quotas, andromeda.QuotaRequest{QuotaID: id})
		}
		b.set(t, keyOf("warm-0"), 42) // already warm: kept
		quotas = append(quotas, andromeda.QuotaRequest{QuotaID: "unknown"})
		var loadsMu sync.Mutex
		loads := map[string]int{}
		countingUsage := andromeda.GetQuotaFunc(func(ctx context.Context, r *andromeda.QuotaRequest) (int64, error) {
			loadsMu.Lock()
			loads[r.QuotaID]++
			loadsMu.Unlock()
			return db.usage().Do(ctx, r)
		})
		conf := andromeda.AddQuotaUsageConfig{Cache: b.cache, GetQuotaLimit: db.limit(), GetQuotaUsage: countingUsage,
			GetQuotaUsageKey: usageKey, GetQuotaUsageExpiration: expireIn(time.Hour), GetQuotaUsageConfig: fastRetry,
			Option: andromeda.AddUsageOption{CacheLimit: true}}

		var mu sync.Mutex
		var seen []andromeda.WarmProgress
		progress := func(p andromeda.WarmProgress) {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, p)
		}
		errs := make(chan error, 2)
		for w := 0; w < 2; w++ {
			go func(w int) {
				opts := andromeda.WarmOptions{Parallel: 8}
				if w == 0 {
					opts.Progress = progress
				}
				errs <- andromeda.WarmQuotas(context.Background(), conf, quotas, opts)
			}(w)
		}
		for w := 0; w < 2; w++ {
			err := <-errs
			require.ErrorIs(t, err, andromeda.ErrQuotaNotFound)
			assert.Contains(t, err.Error(), `1 of 201 failed`)
			assert.Contains(t, err.Error(), `"unknown"`)
		}

		for i := 1; i < 200; i++ {
			require.Equal(t, 1, loads[fmt.Sprint("warm-", i)], "each cold usage loaded once, by either warmer")
		}
		assert.Zero(t, loads["warm-0"])
		loadsBefore := db.loads.Load()
		assert.Equal(t, int64(42), b.get(t, keyOf("warm-0")))
		for i := 1; i < 200; i++ {
			require.Equal(t, int64(i%7), b.get(t, keyOf(fmt.Sprint("warm-", i))))
			require.Equal(t, int64(100), b.get(t, andromeda.LimitKey(keyOf(fmt.Sprint("warm-", i)))))
		}
		require.Len(t, seen, 201)
		for i, p := range seen {
			assert.Equal(t, i+1, p.Done)
			assert.Equal(t, 201, p.Total)
		}
		assert.Equal(t, 1, seen[200].Failed)

		usage, err := andromeda.AddQuotaUsage(conf).Do(context.Background(), req("warm-3", 1))
		require.NoError(t, err)
		assert.Equal(t, int64(4), usage)
		assert.Equal(t, loadsBefore, db.loads.Load(), "the first add needed no load")
	})
}

// A context that ends stops the warming, with its error.
func TestWarmQuotasHonoursTheContext(t *testing.T) {
	b := miniredisBackend(t)
	db := newQuotaDB()
	db.put("q", 1, 0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := andromeda.WarmQuotas(ctx, andromeda.AddQuotaUsageConfig{Cache: b.cache, GetQuotaLimit: db.limit(), GetQuotaUsage: db.usage(),
		GetQuotaUsageKey: usageKey}, []andromeda.QuotaRequest{{QuotaID: "q"}}, andromeda.WarmOptions{})
	require.ErrorIs(t, err, context.Canceled)
	assert.Zero(t, db.loads.Load())
}
