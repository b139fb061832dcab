package andromeda_test

import (
	"context"
	"testing"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// README, "Counting once": "a reduce of another amount than the add's fails with
// ErrInvalidRequest, and so does an add (or a hold's Reserve) of another amount under a key
// already recorded: the first outcome answers only the request it was for (before, an add
// of 5 repeating the key of an add of 1 was told "applied" for 5 units it never got)"; "A
// reduce whose key no add recorded (a refund ID) is a change of its own, applied once."
//
// A reduce's own record ("status usage attempt") keeps no amount, so a refund of 5
// repeating the key of a refund of 1 is told "applied" (usage 9) for 4 units it never gave
// back: the very bug the README says is fixed for adds. The caller refunds 5, Redis
// returned 1.
func TestReview8RefundOfAnotherAmountIsToldApplied(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		db := newQuotaDB()
		db.put("rf", 10, 10)
		reduce := newReduce(b, db, nil)
		usage, err := reduce.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "rf", Usage: 1, IdempotencyKey: "refund-1"})
		require.NoError(t, err)
		require.Equal(t, int64(9), usage)

		usage, err = reduce.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "rf", Usage: 5, IdempotencyKey: "refund-1"})
		t.Logf("refund of 5 under the key of a refund of 1: usage %d, err %v; Redis %d", usage, err, b.get(t, keyOf("rf")))
		assert.ErrorIs(t, err, andromeda.ErrInvalidRequest, "not told applied for 5 units when 1 was given back")
		assert.Equal(t, int64(9), b.get(t, keyOf("rf")), "nothing changes")
	})
}
