package andromeda_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ramadani/andromeda"
)

// A quota whose hold buckets someone else wrote to, on the lazy hold path: every script
// that sweeps them reports ErrInvalidCachedUsage naming the buckets key, and changes
// nothing, not even the due buckets of another quota of the same multi-quota script.
func TestReviewForeignBucketsChangeNothing(t *testing.T) {
	eachRealBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		good, bad := "fb:{x}:good", "fb:{x}:bad"
		goodBuckets, _ := andromeda.HoldKeys(good, "")
		badBuckets, _ := andromeda.HoldKeys(bad, "")
		b.set(t, good, 10)
		b.set(t, bad, 10)
		// The good quota has a due bucket of 3, the bad one a due bucket and a foreign field.
		require.NoError(t, b.client.HSet(ctx, goodBuckets, "1000", "3", "epoch", "1", "next", "1000").Err())
		require.NoError(t, b.client.HSet(ctx, badBuckets, "1000", "3", "epoch", "1", "next", "1000", "1001", "02").Err())

		check := func(t *testing.T, err error) {
			t.Helper()
			require.ErrorIs(t, err, andromeda.ErrInvalidCachedUsage)
			assert.Contains(t, err.Error(), badBuckets)
			assert.Equal(t, int64(10), b.get(t, good))
			assert.Equal(t, int64(10), b.get(t, bad))
			assert.Equal(t, int64(3), b.client.HLen(ctx, goodBuckets).Val(), "the good quota's due bucket is still there")
			assert.Equal(t, int64(4), b.client.HLen(ctx, badBuckets).Val())
		}
		quotas := []andromeda.Quota{
			{GetQuotaLimit: constLimit(100), GetQuotaUsageKey: constKey(good)},
			{GetQuotaLimit: constLimit(100), GetQuotaUsageKey: constKey(bad)},
		}
		_, err := andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: quotas}).Do(ctx, req("q", 1))
		check(t, err)
		_, err = andromeda.ReduceMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: quotas}).Do(ctx, req("q", 1))
		check(t, err)
		_, err = reviewAdd(b, bad, nil).Do(ctx, keyed(1, "a"))
		check(t, err)
		_, err = reviewReduce(b, bad, nil).Do(ctx, req("q", 1))
		check(t, err)
		_, _, err = andromeda.ReleaseExpiredHolds(ctx, b.cache, bad)
		check(t, err)
		holds := andromeda.NewQuotaHolds(andromeda.QuotaHoldsConfig{Cache: b.cache,
			Quota: andromeda.Quota{GetQuotaLimit: constLimit(100), GetQuotaUsageKey: constKey(bad)}})
		_, err = holds.Reserve.Do(ctx, keyed(1, "h"))
		check(t, err)

		// ForgetUsage drops them with the usage: they are state derived from it.
		forgot, found, err := andromeda.ForgetUsage(ctx, b.cache, bad)
		require.NoError(t, err)
		assert.True(t, found)
		assert.Equal(t, int64(10), forgot)
		assert.Zero(t, b.client.Exists(ctx, bad, badBuckets).Val())
	})
}
