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
