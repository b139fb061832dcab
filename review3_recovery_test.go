package andromeda_test

import (
	"context"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// README, Known limits, "Hold buckets evicted without their usage": "to recover, forget
// the quota's usage (`andromeda forget`, after the write-back job) and it reloads without
// the holds". ReadCachedUsages: "`Usage` is the committed usage, what the database should
// get". Once the buckets are gone, the write-back job that runs before the forget (as told)
// reads Held 0 and writes the leaked hold to the database as committed usage: the forget
// then reloads it, and the unit nobody holds stays sold for good.
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

		// The recovery as the README gives it: the write-back job, then forget.
		writeBack()
		_, _, err = andromeda.ForgetUsage(ctx, b.cache, keyOf("rlost"))
		require.NoError(t, err)
		_, err = add.Do(ctx, req("rlost", 1))
		assert.NoError(t, err, "after the recovery the unit nobody holds must be free; database usage %d", db.usages["rlost"])
	})
}
