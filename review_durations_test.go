package andromeda_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ramadani/andromeda"
)

// forever is how a user writes "keep it as long as possible".
const forever = time.Duration(math.MaxInt64)

// An IdempotencyRetention of forever must keep the record (for as long as Redis allows),
// never switch idempotency off: the milliseconds sent to the script must not overflow.
func TestReviewForeverRetentionStillCountsOnce(t *testing.T) {
	b := standaloneBackend(t)
	ctx := context.Background()
	add := reviewAdd(b, "dur:{1}:usage", func(c *andromeda.AddQuotaUsageConfig) { c.Option.IdempotencyRetention = forever })
	for range 3 {
		_, err := add.Do(ctx, keyed(1, "order-1"))
		require.NoError(t, err)
	}
	assert.Equal(t, int64(1), b.get(t, "dur:{1}:usage"), "counted once")
}

// A usage expiration of forever keeps the usage; it must not be taken for "report missing".
func TestReviewForeverUsageExpiration(t *testing.T) {
	b := standaloneBackend(t)
	db := newQuotaDB()
	db.put("v1", 10, 4)
	add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) { c.GetQuotaUsageExpiration = expireIn(forever) })
	usage, err := add.Do(context.Background(), req("v1", 1))
	require.NoError(t, err)
	assert.Equal(t, int64(5), usage)
}

// Holds and keys created without a loader take forever too.
func TestReviewForeverHoldsAndCreatedKeys(t *testing.T) {
	b := standaloneBackend(t)
	ctx := context.Background()
	key := "dur:{3}:usage"
	add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: b.cache, GetQuotaLimit: constLimit(10),
		GetQuotaUsageKey: constKey(key), GetQuotaUsageExpiration: expireIn(forever)})
	usage, err := add.Do(ctx, req("q", 1))
	require.NoError(t, err, "a missing key starts at zero, kept for as long as Redis allows")
	assert.Equal(t, int64(1), usage)
	pttl, err := b.client.Do(ctx, "PTTL", key).Int64() // raw: go-redis's Duration overflows here
	require.NoError(t, err)
	assert.Greater(t, pttl, int64(100*365*24*time.Hour/time.Millisecond), "kept for centuries")

	holds := andromeda.NewQuotaHolds(andromeda.QuotaHoldsConfig{Cache: b.cache, HoldFor: forever, Retention: forever,
		Quota: andromeda.Quota{GetQuotaLimit: constLimit(10), GetQuotaUsageKey: constKey(key)}})
	usage, err = holds.Reserve.Do(ctx, keyed(2, "h"))
	require.NoError(t, err)
	assert.Equal(t, int64(3), usage)
	usage, err = holds.Commit.Do(ctx, keyed(0, "h"))
	require.NoError(t, err)
	assert.Equal(t, int64(3), usage)
}
