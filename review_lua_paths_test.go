package andromeda_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ramadani/andromeda"
)

// The scripts define their record and hold helpers lazily (loadRecords, loadHolds): a
// path that calls one without loading it is a Lua error. Each case below runs one path
// that needs both kinds of helper, on a quota with an expired hold of 2 (to be released)
// and an open hold of 1, on real Redis, and checks the exact usage after it.

// reviewHolds reserves, on key, a hold of 2 that has expired and an open hold of 1: the
// usage is 3, and 1 once the expired hold is released.
func reviewHolds(t *testing.T, b backend, key string) {
	t.Helper()
	ctx := context.Background()
	holds := func(d time.Duration) andromeda.QuotaHolds {
		return andromeda.NewQuotaHolds(andromeda.QuotaHoldsConfig{Cache: b.cache, HoldFor: d,
			Quota: andromeda.Quota{GetQuotaLimit: constLimit(100), GetQuotaUsageKey: constKey(key)}})
	}
	_, err := holds(60*time.Millisecond).Reserve.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: 2, IdempotencyKey: "gone"})
	require.NoError(t, err)
	_, err = holds(time.Hour).Reserve.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: 1, IdempotencyKey: "open"})
	require.NoError(t, err)
	require.Equal(t, int64(3), b.get(t, key))
	time.Sleep(100 * time.Millisecond)
}

var errNextFails = errors.New("next fails")

func failingNext() andromeda.UpdateQuotaUsage {
	return andromeda.UpdateQuotaUsageFunc(func(context.Context, *andromeda.QuotaUsageRequest) (int64, error) {
		return 0, errNextFails
	})
}

func reviewAdd(b backend, key string, change func(*andromeda.AddQuotaUsageConfig)) andromeda.UpdateQuotaUsage {
	conf := andromeda.AddQuotaUsageConfig{Cache: b.cache, GetQuotaLimit: constLimit(100), GetQuotaUsageKey: constKey(key)}
	if change != nil {
		change(&conf)
	}
	return andromeda.AddQuotaUsage(conf)
}

func reviewReduce(b backend, key string, next andromeda.UpdateQuotaUsage) andromeda.UpdateQuotaUsage {
	return andromeda.ReduceQuotaUsage(andromeda.ReduceQuotaUsageConfig{Cache: b.cache, GetQuotaUsageKey: constKey(key), Next: next})
}

func keyed(n int64, key string) *andromeda.QuotaUsageRequest {
	return &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: n, IdempotencyKey: key}
}

func TestReviewLazyHelpersOnEveryPath(t *testing.T) {
	eachRealBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		cases := map[string]func(t *testing.T, key string) int64{
			"keyed add": func(t *testing.T, key string) int64 {
				_, err := reviewAdd(b, key, nil).Do(ctx, keyed(1, "a"))
				require.NoError(t, err)
				return 2
			},
			"keyed reduce taking back an add": func(t *testing.T, key string) int64 {
				_, err := reviewAdd(b, key, nil).Do(ctx, keyed(4, "a"))
				require.NoError(t, err)
				usage, err := reviewReduce(b, key, nil).Do(ctx, keyed(4, "a"))
				require.NoError(t, err)
				assert.Equal(t, int64(1), usage)
				return 1
			},
			"keyed add undone by a failing Next": func(t *testing.T, key string) int64 {
				_, err := reviewAdd(b, key, func(c *andromeda.AddQuotaUsageConfig) { c.Next = failingNext() }).Do(ctx, keyed(5, "a"))
				require.ErrorIs(t, err, errNextFails)
				return 1
			},
			"keyed reduce put back by a failing Next": func(t *testing.T, key string) int64 {
				_, err := reviewReduce(b, key, failingNext()).Do(ctx, keyed(1, "r"))
				require.ErrorIs(t, err, errNextFails)
				return 1
			},
			"compensating reduce put back by a failing Next": func(t *testing.T, key string) int64 {
				_, err := reviewAdd(b, key, nil).Do(ctx, keyed(3, "a"))
				require.NoError(t, err)
				_, err = reviewReduce(b, key, failingNext()).Do(ctx, keyed(3, "a"))
				require.ErrorIs(t, err, errNextFails)
				return 4
			},
			"plain reduce": func(t *testing.T, key string) int64 {
				_, err := reviewReduce(b, key, nil).Do(ctx, req("q", 1))
				require.NoError(t, err)
				return 0
			},
			"coalesced adds": func(t *testing.T, key string) int64 {
				add := reviewAdd(b, key, func(c *andromeda.AddQuotaUsageConfig) { c.Option.Coalesce = true })
				var wg sync.WaitGroup
				for range 16 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						_, err := add.Do(ctx, req("q", 1))
						assert.NoError(t, err)
					}()
				}
				wg.Wait()
				return 17
			},
			"release expired holds": func(t *testing.T, key string) int64 {
				usage, found, err := andromeda.ReleaseExpiredHolds(ctx, b.cache, key)
				require.NoError(t, err)
				assert.True(t, found)
				assert.Equal(t, int64(1), usage)
				return 1
			},
		}
		i := 0
		for name, run := range cases {
			i++
			key := fmt.Sprintf("review:{lazy-%d}:usage", i)
			t.Run(name, func(t *testing.T) {
				reviewHolds(t, b, key)
				want := run(t, key)
				assert.Equal(t, want, b.get(t, key))
			})
		}
	})
}

// Several quotas in one script: the first has no holds, the second has an expired and an
// open one; the script must release the second's before deciding, for add and reduce.
func TestReviewLazyHelpersOnSeveralQuotas(t *testing.T) {
	eachRealBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		plain, held := "review:{multi}:a", "review:{multi}:b"
		reviewHolds(t, b, held)
		quotas := []andromeda.Quota{
			{GetQuotaLimit: constLimit(100), GetQuotaUsageKey: constKey(plain)},
			{GetQuotaLimit: constLimit(2), GetQuotaUsageKey: constKey(held)},
		}
		add := andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: quotas})
		// 1 + 1 fits a limit of 2 only once the expired hold of 2 is released.
		_, err := add.Do(ctx, req("q", 1))
		require.NoError(t, err)
		assert.Equal(t, int64(1), b.get(t, plain))
		assert.Equal(t, int64(2), b.get(t, held))

		reviewHolds(t, b, "review:{multi}:c") // expired again on a third, reduced below
		quotas[1].GetQuotaUsageKey = constKey("review:{multi}:c")
		reduce := andromeda.ReduceMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: quotas})
		_, err = reduce.Do(ctx, req("q", 1))
		require.NoError(t, err)
		assert.Equal(t, int64(0), b.get(t, plain))
		assert.Equal(t, int64(0), b.get(t, "review:{multi}:c"))
	})
}
