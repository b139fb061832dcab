package andromeda_test

import (
	"context"
	"testing"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReduce(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := newQuotaDB()
		db.put("v1", 10, 6)
		reduce := newReduce(b, db, nil)

		usage, err := reduce.Do(context.Background(), req("v1", 2))
		require.NoError(t, err)
		assert.Equal(t, int64(4), usage, "loaded 6 from the database, then reduced 2")
		assert.Equal(t, int64(4), b.get(t, keyOf("v1")))
	})
}

func TestReduceBelowZeroChangesNothing(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := newQuotaDB()
		b.set(t, keyOf("v1"), 3)
		reduce := newReduce(b, db, nil)

		usage, err := reduce.Do(context.Background(), req("v1", 4))
		require.ErrorIs(t, err, andromeda.ErrInvalidMinQuotaUsage)
		assert.Zero(t, usage)
		var qerr *andromeda.QuotaError
		require.ErrorAs(t, err, &qerr)
		assert.Equal(t, int64(3), qerr.Usage)
		assert.Equal(t, `andromeda: reduce 4 from quota "v1" (key "quota:{v1}:usage"): quota usage cannot go below zero (usage 3)`, err.Error())
		assert.Equal(t, int64(3), b.get(t, keyOf("v1")))
	})
}

func TestReduceWithoutLoaderOnMissingKeyIsBelowZero(t *testing.T) {
	b := miniredisBackend(t)
	reduce := newReduce(b, newQuotaDB(), func(c *andromeda.ReduceQuotaUsageConfig) { c.GetQuotaUsage = nil })
	_, err := reduce.Do(context.Background(), req("v1", 1))
	require.ErrorIs(t, err, andromeda.ErrInvalidMinQuotaUsage)
	assert.Equal(t, int64(-1), b.get(t, keyOf("v1")), "nothing is written")
}
