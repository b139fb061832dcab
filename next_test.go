package andromeda_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var errNext = errors.New("next step failed")

func failingStep(calls *int) andromeda.UpdateQuotaUsage {
	return andromeda.UpdateQuotaUsageFunc(func(context.Context, *andromeda.QuotaUsageRequest) (int64, error) {
		*calls++
		return 0, errNext
	})
}

// A campaign quota chained with a per-user quota: when the second is full, the first
// is given back.
func TestAddNextFailureUndoesTheAdd(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := newQuotaDB()
		db.put("campaign", 100, 10)
		db.put("user", 2, 2)
		listener := &countingListener{}
		userQuota := newAdd(b, db, nil)
		campaign := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) {
			c.Next = andromeda.UpdateQuotaUsageFunc(func(ctx context.Context, r *andromeda.QuotaUsageRequest) (int64, error) {
				return userQuota.Do(ctx, req("user", r.Usage))
			})
			c.Option.Listener = listener
		})

		_, err := campaign.Do(context.Background(), req("campaign", 1))
		require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded)
		var qerr *andromeda.QuotaError
		require.ErrorAs(t, err, &qerr)
		assert.Equal(t, "user", qerr.QuotaID, "the error names the quota that was full")
		assert.Equal(t, int64(10), b.get(t, keyOf("campaign")), "the campaign add was undone")
		assert.Equal(t, int64(2), b.get(t, keyOf("user")))
		assert.Equal(t, int64(1), listener.errors.Load())
		assert.Zero(t, listener.successes.Load())
	})
}

func TestAddNextSuccessKeepsBoth(t *testing.T) {
	b := miniredisBackend(t)
	db := newQuotaDB()
	db.put("campaign", 100, 10)
	db.put("user", 2, 0)
	userQuota := newAdd(b, db, nil)
	campaign := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) {
		c.Next = andromeda.UpdateQuotaUsageFunc(func(ctx context.Context, r *andromeda.QuotaUsageRequest) (int64, error) {
			return userQuota.Do(ctx, req("user", r.Usage))
		})
	})
	usage, err := campaign.Do(context.Background(), req("campaign", 1))
	require.NoError(t, err)
	assert.Equal(t, int64(11), usage, "Do returns its own quota's usage")
	assert.Equal(t, int64(1), b.get(t, keyOf("user")))
}

func TestIrreversibleAddKeepsTheChange(t *testing.T) {
	b := miniredisBackend(t)
	db := newQuotaDB()
	db.put("v1", 10, 0)
	calls := 0
	add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) {
		c.Next = failingStep(&calls)
		c.Option.Irreversible = true
	})
	_, err := add.Do(context.Background(), req("v1", 3))
	require.ErrorIs(t, err, errNext)
	assert.Equal(t, 1, calls)
	assert.Equal(t, int64(3), b.get(t, keyOf("v1")))
}

func TestReduceNextFailureUndoesTheReduce(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := newQuotaDB()
		b.set(t, keyOf("v1"), 5)
		calls := 0
		reduce := newReduce(b, db, func(c *andromeda.ReduceQuotaUsageConfig) { c.Next = failingStep(&calls) })
		_, err := reduce.Do(context.Background(), req("v1", 2))
		require.ErrorIs(t, err, errNext)
		assert.Equal(t, int64(5), b.get(t, keyOf("v1")))

		irreversible := newReduce(b, db, func(c *andromeda.ReduceQuotaUsageConfig) {
			c.Next = failingStep(&calls)
			c.Option.Irreversible = true
		})
		_, err = irreversible.Do(context.Background(), req("v1", 2))
		require.ErrorIs(t, err, errNext)
		assert.Equal(t, int64(3), b.get(t, keyOf("v1")))
	})
}

// Next may fail because the caller's context ended; the undo must still happen.
func TestUndoRunsAfterTheContextIsCancelled(t *testing.T) {
	b := miniredisBackend(t)
	db := newQuotaDB()
	db.put("v1", 10, 0)
	ctx, cancel := context.WithCancel(context.Background())
	add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) {
		c.Next = andromeda.UpdateQuotaUsageFunc(func(ctx context.Context, _ *andromeda.QuotaUsageRequest) (int64, error) {
			cancel()
			return 0, ctx.Err()
		})
	})
	_, err := add.Do(ctx, req("v1", 4))
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, int64(0), b.get(t, keyOf("v1")))
}

// When the undo itself fails, the error says both.
func TestFailedUndoIsReported(t *testing.T) {
	b := miniredisBackend(t)
	db := newQuotaDB()
	db.put("v1", 10, 0)
	add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) {
		c.Next = andromeda.UpdateQuotaUsageFunc(func(context.Context, *andromeda.QuotaUsageRequest) (int64, error) {
			b.set(t, keyOf("v1"), "broken") // the undo will find no integer to reduce
			return 0, errNext
		})
	})
	_, err := add.Do(context.Background(), req("v1", 4))
	require.ErrorIs(t, err, errNext)
	require.ErrorIs(t, err, andromeda.ErrInvalidCachedUsage)
	require.ErrorIs(t, err, andromeda.ErrUndoFailed, "the add is still counted")
	assert.Contains(t, err.Error(), "undoing the add of 4")
}
