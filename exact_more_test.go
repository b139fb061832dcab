package andromeda_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The 2^53 boundary on the paths exact_test.go leaves out: a limit kept in Redis and
// changed with SetQuotaLimit mid-way (to MaxAmount and to 0), a limit of 0 on a key that
// does not exist yet, the undo of an add and the put-back of a reduce when Next fails,
// and idempotent replays of usages at 2^53.
func TestExactAtMaxAmountOtherPaths(t *testing.T) {
	runOn(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		db := newQuotaDB()
		db.put("q", 5, 0)
		key := keyOf("q")
		cached := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) { c.Option.CacheLimit = true })
		cachedCoalesced := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) {
			c.Option.CacheLimit, c.Option.Coalesce = true, true
		})

		b.set(t, key, maxAmount-1)
		require.NoError(t, andromeda.SetQuotaLimit(ctx, b.cache, key, maxAmount, 0))
		for _, add := range []andromeda.UpdateQuotaUsage{cached, cachedCoalesced} {
			_, err := add.Do(ctx, req("q", 2))
			require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded)
			assert.Equal(t, int64(maxAmount-1), b.get(t, key))
		}
		usage, err := cached.Do(ctx, idem("q", 1, "last"))
		require.NoError(t, err)
		assert.Equal(t, int64(maxAmount), usage)
		usage, err = cached.Do(ctx, idem("q", 1, "last")) // replayed exactly
		require.NoError(t, err)
		assert.Equal(t, int64(maxAmount), usage)
		require.NoError(t, andromeda.SetQuotaLimit(ctx, b.cache, key, 0, 0)) // lowered mid-way
		for _, add := range []andromeda.UpdateQuotaUsage{cached, cachedCoalesced} {
			_, err = add.Do(ctx, req("q", 1))
			require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded)
		}
		assert.Equal(t, int64(maxAmount), b.get(t, key))

		// Limit 0 on a key that does not exist: nothing admitted, nothing stored.
		b.flush(t)
		zero := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: b.cache, GetQuotaLimit: fixed(0), GetQuotaUsageKey: usageKey})
		zeroCoalesced := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: b.cache, GetQuotaLimit: fixed(0),
			GetQuotaUsageKey: usageKey, Option: andromeda.AddUsageOption{Coalesce: true}})
		for _, add := range []andromeda.UpdateQuotaUsage{zero, zeroCoalesced} {
			_, err = add.Do(ctx, req("q", 1))
			require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded)
			assert.Equal(t, int64(-1), b.get(t, key), "no key for a refused add")
		}

		// Undo and put back at the boundary.
		failing := andromeda.UpdateQuotaUsageFunc(func(context.Context, *andromeda.QuotaUsageRequest) (int64, error) {
			return 0, errors.New("insert failed")
		})
		db.put("q", maxAmount, 0)
		undone := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) { c.Next = failing })
		putBack := newReduce(b, db, func(c *andromeda.ReduceQuotaUsageConfig) { c.Next = failing })
		b.set(t, key, maxAmount-1)
		_, err = undone.Do(ctx, req("q", 1))
		require.ErrorContains(t, err, "insert failed")
		assert.Equal(t, int64(maxAmount-1), b.get(t, key))
		_, err = undone.Do(ctx, idem("q", 1, "k"))
		require.ErrorContains(t, err, "insert failed")
		assert.Equal(t, int64(maxAmount-1), b.get(t, key))
		b.set(t, key, maxAmount)
		_, err = putBack.Do(ctx, req("q", maxAmount))
		require.ErrorContains(t, err, "insert failed")
		assert.Equal(t, int64(maxAmount), b.get(t, key))
		_, err = putBack.Do(ctx, idem("q", 1, "refund"))
		require.ErrorContains(t, err, "insert failed")
		assert.Equal(t, int64(maxAmount), b.get(t, key))
	}, miniredisStarter, standaloneStarter)
}
