package andromeda_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// copyingCache keeps the arguments of the first keyed ReduceUsage it passes on, so a test
// can deliver a late copy of that attempt (what the network does with a request the
// client gave up on) after the Do that sent it is over.
type copyingCache struct {
	andromeda.Cache
	mu      sync.Mutex
	reduces []andromeda.ReduceUsageArgs
}

func (c *copyingCache) ReduceUsage(ctx context.Context, args andromeda.ReduceUsageArgs) (andromeda.CacheResult, error) {
	c.mu.Lock()
	c.reduces = append(c.reduces, args)
	c.mu.Unlock()
	return c.Cache.ReduceUsage(ctx, args)
}

// The claim flow's compensating reduce (same key as the add) takes the add back, its
// Next fails, and the reduce is undone: the add counts again, and Do reports Next's
// error. A copy of the reduce's attempt delivered late, after that Do was undone, must
// change nothing (README, "Counting once": "a copy of one of its requests that the
// network delivers late, after the Do was undone ..., changes nothing").
//
// FAILS: the put-back rewrites the add's record as "applied" with the add's attempt and
// keeps no trace of the reduce's attempt, so the late copy of the reduce finds an applied
// add and takes it back again: usage 0 while the add stands and the reduce was undone.
func TestLateCompensatingReduceAfterItsUndo(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := newQuotaDB()
		db.put("lr", 10, 0)
		cc := &copyingCache{Cache: b.cache}
		add := newAdd(backend{cache: cc}, db, nil)
		errNext := errors.New("refund row failed")
		reduce := newReduce(backend{cache: cc}, db, func(c *andromeda.ReduceQuotaUsageConfig) {
			c.Next = andromeda.UpdateQuotaUsageFunc(func(context.Context, *andromeda.QuotaUsageRequest) (int64, error) { return 0, errNext })
		})
		ctx := context.Background()
		claim := &andromeda.QuotaUsageRequest{QuotaID: "lr", Usage: 1, IdempotencyKey: "claim-1"}
		_, err := add.Do(ctx, claim)
		require.NoError(t, err)

		_, err = reduce.Do(ctx, claim)
		require.ErrorIs(t, err, errNext)
		require.Equal(t, int64(1), b.get(t, keyOf("lr")), "the reduce was undone: the add counts")

		cc.mu.Lock()
		require.NotEmpty(t, cc.reduces)
		late := cc.reduces[0]
		cc.mu.Unlock()
		_, err = b.cache.ReduceUsage(ctx, late) // the reduce's attempt, delivered late
		require.NoError(t, err)
		assert.Equal(t, int64(1), b.get(t, keyOf("lr")), "a late copy of an undone Do's attempt changed the usage")
	})
}
