package andromeda_test

import (
	"context"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The README's operator procedure for ForgetUsage: "run the write-back job
// (ReadCachedUsages) first", then forget. ForgetUsage's doc: an open hold's "Cancel
// changes nothing (the reloaded usage never counted it)". But ReadCachedUsages returns
// the usage with the active holds in it, so the job writes them to the database as if
// committed, the reload counts them, and the hold's Cancel (or expiry) never gives them
// back: the units are lost for good, and adds that fit are refused ("no false sold out").
// The same happens without ForgetUsage when Redis loses the usage after a sync (restart,
// eviction: "holds counted in the lost usage are dropped with it").
func TestReview2WriteBackCountsOpenHoldsForGood(t *testing.T) {
	eachRealBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		db := newQuotaDB()
		db.put("wb", 10, 0) // nothing sold yet
		holds := newHolds(b, db, time.Minute)
		add := newAdd(b, db, nil)

		_, err := holds.Reserve.Do(ctx, idem("wb", 3, "order-1")) // an open hold of 3
		require.NoError(t, err)

		// The write-back job, as the README shows it.
		usages, err := andromeda.ReadCachedUsages(ctx, b.cache, usageKey, []*andromeda.QuotaRequest{{QuotaID: "wb"}})
		require.NoError(t, err)
		for _, u := range usages {
			if u.Found {
				db.put(u.QuotaID, 10, u.Usage)
			}
		}
		// Then forget (or: Redis restarts empty, or evicts the usage).
		_, _, err = andromeda.ForgetUsage(ctx, b.cache, keyOf("wb"))
		require.NoError(t, err)

		// The order is cancelled: nothing was ever committed.
		_, err = holds.Cancel.Do(ctx, idem("wb", 0, "order-1"))
		require.NoError(t, err)
		usage, err := add.Do(ctx, req("wb", 10))
		t.Logf("after the cancel: add of 10 on a limit of 10 with nothing committed: usage %d, err %v; database usage written back: %d, Redis %d",
			usage, err, usages[0].Usage, b.get(t, keyOf("wb")))
		assert.NoError(t, err, "nothing is committed: the whole limit must be available")
	})
}
