package andromeda_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// README, Guarantee 1: "Usage is never counted above the limit". Guarantee 4: "A reduce
// is put back only within the usage it started from: if others' adds took the units it
// freed while its Next ran, putting it back would oversell, so the reduce stays applied and
// Do fails with ErrUndoFailed".
//
// Alice cancels her keyed claim (the reduce with the claim's key takes the add back) and
// the cancel succeeds; Bob takes the freed unit. Alice's client repeats the cancel (same
// key): the reduce replays "applied", but reports the usage of now (1), not the usage its
// reduce left, so putBackReduce's bound (usage + amount = 2) is not the usage it started
// from. Next fails (a database blip): the undo re-applies Alice's add on top of Bob's:
// usage 2 on a limit of 1.
func TestReview3ReplayedCompensationPutBackOversells(t *testing.T) {
	eachRealBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		db := newQuotaDB()
		db.put("rpc", 1, 0)
		add := newAdd(b, db, nil)
		_, err := add.Do(ctx, idem("rpc", 1, "claim-alice"))
		require.NoError(t, err)

		fail := false
		errDB := errors.New("database blip while deleting Alice's claim row")
		cancel := newReduce(b, db, func(c *andromeda.ReduceQuotaUsageConfig) {
			c.GetQuotaLimit = db.limit() // bounds the undo
			c.Next = andromeda.UpdateQuotaUsageFunc(func(context.Context, *andromeda.QuotaUsageRequest) (int64, error) {
				if fail {
					return 0, errDB
				}
				return 0, nil
			})
		})
		_, err = cancel.Do(ctx, idem("rpc", 1, "claim-alice")) // Alice's cancel, done
		require.NoError(t, err)
		_, err = add.Do(ctx, req("rpc", 1)) // Bob takes the unit
		require.NoError(t, err)

		fail = true
		_, err = cancel.Do(ctx, idem("rpc", 1, "claim-alice")) // Alice's client repeats the cancel
		t.Logf("repeated cancel: %v", err)
		require.Error(t, err)
		usage := b.get(t, keyOf("rpc"))
		assert.LessOrEqual(t, usage, int64(1), "usage %d on a limit of 1: oversold by the put-back of a replayed reduce", usage)
	})
}
