package andromeda_test

import (
	"context"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// README, Known limits, "Hold buckets evicted without their usage": once the buckets are
// gone, ReadCachedUsages cannot tell the leaked hold from committed usage (Held 0), so a
// write-back then would save the leak to the database. The recovery the README gives:
// forget the usage without writing it back first, so that it reloads from a database
// that counts committed claims only; the unit nobody holds is free again.
func TestReview3RecoveryAfterBucketLossWritesTheLeakBack(t *testing.T) {
	eachRealBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		db := newQuotaDB()
		db.put("rlost", 1, 0)
		holds := newHolds(b, db, time.Minute)
		add := newAdd(b, db, nil)
		writeBack := func() {
			usages, err := andromeda.ReadCachedUsages(ctx, b.cache, usageKey, []*andromeda.QuotaRequest{{QuotaID: "rlost"}})
			require.NoError(t, err)
			if usages[0].Found {
				t.Logf("write-back: Usage %d Held %d", usages[0].Usage, usages[0].Held)
				db.put("rlost", 1, usages[0].Usage)
			}
		}
		_, err := holds.Reserve.Do(ctx, idem("rlost", 1, "order"))
		require.NoError(t, err)
		writeBack() // a scheduled run while the hold is open: 0, right

		buckets, _ := andromeda.HoldKeys(keyOf("rlost"), "")
		require.NoError(t, b.client.Del(ctx, buckets).Err()) // as an allkeys-* eviction may
		_, err = holds.Cancel.Do(ctx, idem("rlost", 0, "order"))
		require.NoError(t, err)

		// The recovery as the README gives it: forget, with no write-back in between.
		_, _, err = andromeda.ForgetUsage(ctx, b.cache, keyOf("rlost"))
		require.NoError(t, err)
		_, err = add.Do(ctx, req("rlost", 1))
		assert.NoError(t, err, "after the recovery the unit nobody holds must be free; database usage %d", db.usages["rlost"])
	})
}
