package andromeda_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ramadani/andromeda"
)

// Numbers at 2^53 through the record, undo, put-back and hold paths, on real Redis:
// each must be exact, and what does not fit must be refused, never rounded.
func TestReviewEdgesOfTheNewPaths(t *testing.T) {
	const max = int64(andromeda.MaxAmount)
	eachRealBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		at := func(key string, usage int64) {
			b.set(t, key, strconv.FormatInt(usage, 10))
		}
		addTo := func(key string, limit int64, next andromeda.UpdateQuotaUsage) andromeda.UpdateQuotaUsage {
			return andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: b.cache, GetQuotaLimit: constLimit(limit),
				GetQuotaUsageKey: constKey(key), Next: next})
		}

		// A keyed add of 2^53 from 0, taken back by its keyed reduce.
		key := "edge:{1}:usage"
		at(key, 0)
		usage, err := addTo(key, max, nil).Do(ctx, keyed(max, "a"))
		require.NoError(t, err)
		assert.Equal(t, max, usage)
		usage, err = reviewReduce(b, key, nil).Do(ctx, keyed(max, "a"))
		require.NoError(t, err)
		assert.Zero(t, usage)
		assert.Zero(t, b.get(t, key))
		// The key's next add is a fresh attempt; one unit more than the limit allows is refused.
		at(key, 1)
		_, err = addTo(key, max, nil).Do(ctx, keyed(max, "a"))
		require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded)
		assert.Equal(t, int64(1), b.get(t, key))

		// An add to 2^53 undone by its failing Next.
		key = "edge:{2}:usage"
		at(key, max-1)
		_, err = addTo(key, max, failingNext()).Do(ctx, keyed(1, "a"))
		require.ErrorIs(t, err, errNextFails)
		assert.Equal(t, max-1, b.get(t, key))

		// A reduce of 2^53-1 put back by its failing Next.
		key = "edge:{3}:usage"
		at(key, max-1)
		_, err = reviewReduce(b, key, failingNext()).Do(ctx, keyed(max-1, "r"))
		require.ErrorIs(t, err, errNextFails)
		assert.Equal(t, max-1, b.get(t, key))

		// A hold to 2^53 that expires: the next add finds room for one unit again.
		key = "edge:{4}:usage"
		at(key, max-1)
		holds := andromeda.NewQuotaHolds(andromeda.QuotaHoldsConfig{Cache: b.cache, HoldFor: 60 * time.Millisecond,
			Quota: andromeda.Quota{GetQuotaLimit: constLimit(max), GetQuotaUsageKey: constKey(key)}})
		usage, err = holds.Reserve.Do(ctx, keyed(1, "h"))
		require.NoError(t, err)
		assert.Equal(t, max, usage)
		_, err = addTo(key, max, nil).Do(ctx, req("q", 1))
		require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded, "held: full")
		time.Sleep(100 * time.Millisecond)
		usage, err = addTo(key, max, nil).Do(ctx, req("q", 1))
		require.NoError(t, err, "the expired hold is released first")
		assert.Equal(t, max, usage)

		// Several quotas next to 2^53.
		quotas := []andromeda.Quota{
			{GetQuotaLimit: constLimit(max), GetQuotaUsageKey: constKey("edge:{5}:a")},
			{GetQuotaLimit: constLimit(max), GetQuotaUsageKey: constKey("edge:{5}:b")},
		}
		at("edge:{5}:a", max-1)
		at("edge:{5}:b", 0)
		multi := andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: quotas})
		_, err = multi.Do(ctx, req("q", 2))
		require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded)
		_, err = multi.Do(ctx, req("q", 1))
		require.NoError(t, err)
		assert.Equal(t, max, b.get(t, "edge:{5}:a"))
		assert.Equal(t, int64(1), b.get(t, "edge:{5}:b"))

		// ForgetUsage returns 2^53 exactly.
		forgot, found, err := andromeda.ForgetUsage(ctx, b.cache, "edge:{5}:a")
		require.NoError(t, err)
		assert.True(t, found)
		assert.Equal(t, max, forgot)
	})
}
