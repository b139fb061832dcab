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

// reserveMany reserves n holds of amount on quota, named prefix-0 .. prefix-(n-1), from a
// few goroutines.
func reserveMany(t *testing.T, holds andromeda.QuotaHolds, quota, prefix string, n int, amount int64) {
	t.Helper()
	const workers = 8
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += workers {
				if _, err := holds.Reserve.Do(context.Background(), idem(quota, amount, fmt.Sprint(prefix, "-", i))); err != nil {
					assert.NoError(t, err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	require.False(t, t.Failed())
}

// waitPast sleeps until d has passed since start, plus a margin for the rounding of hold
// ends (at most 1/64 of HoldFor) and for clocks.
func waitPast(start time.Time, d time.Duration) {
	time.Sleep(time.Until(start.Add(d + d/64 + 50*time.Millisecond)))
}

// The case: 150 abandoned holds of 1 against a limit of 150. After they expire,
// the whole limit can be reserved again, and a commit of one of them comes too late.
func TestManyExpiredHoldsAreAllReleased(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := newQuotaDB()
		db.put("sale", 150, 0)
		const holdFor = time.Second // long enough for 150 reserves on a loaded machine
		holds := newHolds(b, db, holdFor)
		ctx := context.Background()
		reserveMany(t, holds, "sale", "abandoned", 150, 1)
		start := time.Now() // after the last reserve
		assert.Equal(t, int64(150), b.get(t, keyOf("sale")))
		_, err := holds.Reserve.Do(ctx, idem("sale", 1, "one-more"))
		require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded, "sold out while they are active")
		waitPast(start, holdFor)

		_, err = holds.Commit.Do(ctx, idem("sale", 0, "abandoned-149"))
		require.ErrorIs(t, err, andromeda.ErrHoldExpired, "no commit after expiry")
		usage, err := holds.Reserve.Do(ctx, idem("sale", 150, "everything"))
		require.NoError(t, err, "no false sold out")
		assert.Equal(t, int64(150), usage)
		for _, id := range []string{"abandoned-0", "abandoned-77"} {
			_, err = holds.Commit.Do(ctx, idem("sale", 0, id))
			require.ErrorIs(t, err, andromeda.ErrHoldExpired)
			_, err = holds.Cancel.Do(ctx, idem("sale", 0, id))
			require.NoError(t, err, "cancelling an expired hold changes nothing")
		}
		usage, err = holds.Commit.Do(ctx, idem("sale", 0, "everything"))
		require.NoError(t, err)
		assert.Equal(t, int64(150), usage)
	})
}

// Holds expire while only plain adds run on the quota: the adds release them, and every
// add that fits is admitted, up to the limit exactly.
func TestExpiredHoldsReleasedByPlainAdds(t *testing.T) {
	skipLongInShort(t)
	eachRealBackend(t, func(t *testing.T, b backend) {
		const limit = 10_000
		db := newQuotaDB()
		db.put("sale", limit, 0)
		const holdFor = 2 * time.Second
		holds := newHolds(b, db, holdFor)
		add := newAdd(b, db, nil)
		ctx := context.Background()
		b.set(t, keyOf("sale"), 0)
		// Pipelined: one Do at a time, 10,000 reserves can take longer than the holds last
		// on a loaded machine.
		reservePipelined(t, b, keyOf("sale"), limit, holdFor)
		// (Not asserted full here: on a loaded machine the first holds may expire before the
		// last is reserved, and the later reserves release them.)
		waitPast(time.Now(), holdFor)

		for i := 0; i < 100; i++ {
			usage, err := add.Do(ctx, req("sale", 100))
			require.NoError(t, err, "add %d of 100: no false sold out", i)
			require.Equal(t, int64(100*(i+1)), usage)
		}
		_, err := add.Do(ctx, req("sale", 1))
		require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded, "and nothing beyond the limit")
		_, err = holds.Commit.Do(ctx, idem("sale", 0, "h-9999"))
		require.ErrorIs(t, err, andromeda.ErrHoldExpired)
		assert.Equal(t, int64(limit), b.get(t, keyOf("sale")))
	})
}

// A plain reduce, and an add to several quotas at once, release expired holds first too.
func TestExpiredHoldsReleasedByOtherScripts(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := newQuotaDB()
		db.put("sale", 10, 5) // 5 committed
		const holdFor = 200 * time.Millisecond
		holds := newHolds(b, db, holdFor)
		reduce := newReduce(b, db, nil)
		ctx := context.Background()
		reserveMany(t, holds, "sale", "h", 5, 1)
		start := time.Now()
		require.Equal(t, int64(10), b.get(t, keyOf("sale")))
		waitPast(start, holdFor)
		usage, err := reduce.Do(ctx, req("sale", 5))
		require.NoError(t, err)
		assert.Equal(t, int64(0), usage, "the holds were released before the reduce")

		// Coalesced adds (one batch script) release them too.
		reserveMany(t, holds, "sale", "c", 10, 1)
		start = time.Now()
		waitPast(start, holdFor)
		coalesced := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) { c.Option.Coalesce = true })
		usage, err = coalesced.Do(ctx, req("sale", 10))
		require.NoError(t, err, "the expired holds do not fill the quota")
		assert.Equal(t, int64(10), usage)

		// Two quotas in one slot: both carry expired holds.
		db.put("{campaign-9}:usage", 4, 0)
		db.put("{campaign-9}:user", 4, 0)
		quotaKey := andromeda.GetQuotaKeyFunc(func(_ context.Context, r *andromeda.QuotaRequest) (string, error) { return r.QuotaID, nil })
		both := andromeda.NewQuotaHolds(andromeda.QuotaHoldsConfig{
			Cache: b.cache,
			Quota: andromeda.Quota{
				GetQuotaLimit:    db.limit(),
				GetQuotaUsage:    db.usage(),
				GetQuotaUsageKey: quotaKey,
			},
			GetQuotaUsageConfig: fastRetry,
			HoldFor:             holdFor,
		})
		for _, q := range []string{"{campaign-9}:usage", "{campaign-9}:user"} {
			reserveMany(t, both, q, "h", 4, 1)
		}
		start = time.Now()
		waitPast(start, holdFor)
		fixedKey := func(key string) andromeda.GetQuotaKey {
			return andromeda.GetQuotaKeyFunc(func(context.Context, *andromeda.QuotaRequest) (string, error) { return key, nil })
		}
		multi := andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: []andromeda.Quota{
			{GetQuotaLimit: fixed(4), GetQuotaUsageKey: fixedKey("{campaign-9}:usage")},
			{GetQuotaLimit: fixed(4), GetQuotaUsageKey: fixedKey("{campaign-9}:user")},
		}})
		_, err = multi.Do(ctx, req("{campaign-9}:usage", 4))
		require.NoError(t, err, "both quotas' holds were released")
		assert.Equal(t, int64(4), b.get(t, "{campaign-9}:usage"))
		assert.Equal(t, int64(4), b.get(t, "{campaign-9}:user"))
	})
}

// A closed hold is remembered for its retention, then forgotten by Redis itself, with no
// further call; an expired one likewise, Retention after its end.
func TestClosedHoldsForgottenAfterRetention(t *testing.T) {
	eachRealBackend(t, func(t *testing.T, b backend) {
		db := newQuotaDB()
		db.put("sale", 10, 0)
		const retention = 300 * time.Millisecond
		const holdFor = 100 * time.Millisecond
		holds := andromeda.NewQuotaHolds(andromeda.QuotaHoldsConfig{
			Cache: b.cache,
			Quota: andromeda.Quota{
				GetQuotaLimit:           db.limit(),
				GetQuotaUsage:           db.usage(),
				GetQuotaUsageKey:        usageKey,
				GetQuotaUsageExpiration: expireIn(time.Hour),
			},
			GetQuotaUsageConfig: fastRetry,
			HoldFor:             holdFor,
			Retention:           retention,
		})
		ctx := context.Background()
		for _, id := range []string{"committed", "cancelled", "expired"} {
			_, err := holds.Reserve.Do(ctx, idem("sale", 1, id))
			require.NoError(t, err)
		}
		_, err := holds.Commit.Do(ctx, idem("sale", 0, "committed"))
		require.NoError(t, err)
		_, err = holds.Cancel.Do(ctx, idem("sale", 0, "cancelled"))
		require.NoError(t, err)
		_, err = holds.Commit.Do(ctx, idem("sale", 0, "committed"))
		require.NoError(t, err, "remembered: a repeat succeeds")

		buckets, _ := andromeda.HoldKeys(keyOf("sale"), "")
		ttl, err := b.client.PTTL(ctx, buckets).Result()
		require.NoError(t, err)
		assert.Greater(t, ttl, time.Duration(0), "the buckets live no longer than the usage (an hour) and a second")
		assert.LessOrEqual(t, ttl, time.Hour+time.Second)

		keys := map[string]string{}
		for _, id := range []string{"committed", "cancelled", "expired"} {
			_, keys[id] = andromeda.HoldKeys(keyOf("sale"), id)
			ttl, err := b.client.PTTL(ctx, keys[id]).Result()
			require.NoError(t, err)
			assert.Greater(t, ttl, time.Duration(0), "%s hold has its own expiry", id)
			assert.LessOrEqual(t, ttl, holdFor+holdFor/64+retention+time.Millisecond, id)
		}
		time.Sleep(holdFor + retention + 300*time.Millisecond)
		for id, key := range keys {
			n, err := b.client.Exists(ctx, key).Result()
			require.NoError(t, err)
			assert.Zero(t, n, "%s hold forgotten without any further call", id)
		}
		_, err = holds.Commit.Do(ctx, idem("sale", 0, "committed"))
		require.ErrorIs(t, err, andromeda.ErrHoldNotFound, "long forgotten")
	})
}

// When the usage key is lost, the holds it counted are lost with it: they count as
// expired, and their quota is never released against the usage loaded afresh.
func TestHoldsLostWithTheUsage(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := newQuotaDB()
		db.put("sale", 100, 10) // 10 committed in the database
		const holdFor = 300 * time.Millisecond
		holds := newHolds(b, db, holdFor)
		long := newHolds(b, db, time.Minute)
		add := newAdd(b, db, nil)
		ctx := context.Background()
		reserveMany(t, holds, "sale", "old", 20, 1)
		start := time.Now()
		require.Equal(t, int64(30), b.get(t, keyOf("sale")))

		require.NoError(t, b.client.Del(ctx, keyOf("sale")).Err())
		usage, err := long.Reserve.Do(ctx, idem("sale", 5, "new"))
		require.NoError(t, err)
		assert.Equal(t, int64(15), usage, "loaded from the database, then held")
		_, err = holds.Commit.Do(ctx, idem("sale", 0, "old-3"))
		require.ErrorIs(t, err, andromeda.ErrHoldExpired, "a hold lost with the usage cannot be kept")
		_, err = holds.Cancel.Do(ctx, idem("sale", 0, "old-4"))
		require.NoError(t, err)
		assert.Equal(t, int64(15), b.get(t, keyOf("sale")), "and cancelling it gives nothing back")

		waitPast(start, holdFor)
		usage, err = add.Do(ctx, req("sale", 1))
		require.NoError(t, err)
		assert.Equal(t, int64(16), usage, "the lost holds' ends passed: nothing released")
		usage, err = long.Commit.Do(ctx, idem("sale", 0, "new"))
		require.NoError(t, err)
		assert.Equal(t, int64(16), usage)
	})
}

// A plain add that starts an absent usage at zero (no loader) drops the holds the lost
// usage counted.
func TestPlainAddCreatingTheUsageDropsLostHolds(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := newQuotaDB()
		db.put("sale", 100, 0)
		const holdFor = 200 * time.Millisecond
		holds := newHolds(b, db, holdFor)
		add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) { c.GetQuotaUsage = nil })
		ctx := context.Background()
		reserveMany(t, holds, "sale", "old", 10, 1)
		start := time.Now()
		require.NoError(t, b.client.Del(ctx, keyOf("sale")).Err())
		usage, err := add.Do(ctx, req("sale", 3))
		require.NoError(t, err)
		assert.Equal(t, int64(3), usage)
		buckets, _ := andromeda.HoldKeys(keyOf("sale"), "")
		n, err := b.client.Exists(ctx, buckets).Result()
		require.NoError(t, err)
		assert.Zero(t, n, "the lost holds' buckets were dropped")
		waitPast(start, holdFor)
		usage, err = add.Do(ctx, req("sale", 1))
		require.NoError(t, err)
		assert.Equal(t, int64(4), usage)
	})
}
