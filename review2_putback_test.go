package andromeda_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Guarantee 1: "nothing is ever oversold ... Usage is never counted above the limit".
// Guarantee 4: "If Next fails, the change is undone". A reduce (Alice cancels her claim)
// frees her unit; while its Next (deleting her claim row) runs, Bob's add takes the unit;
// then Next fails and the undo puts the reduce back with no limit but MaxAmount
// (putBackReduce): usage 2 on a limit of 1, two claims kept for one unit. The same with
// the claim's idempotency key (the undo re-applies the add taken back).
func TestReview2ReduceUndoPassesTheLimit(t *testing.T) {
	for _, keyed := range []bool{false, true} {
		name := "plain"
		if keyed {
			name = "keyed"
		}
		t.Run(name, func(t *testing.T) {
			eachRealBackend(t, func(t *testing.T, b backend) {
				ctx := context.Background()
				db := newQuotaDB()
				db.put("pb", 1, 0)
				add := newAdd(b, db, nil)
				alice := req("pb", 1)
				if keyed {
					alice = idem("pb", 1, "claim-alice")
				}
				_, err := add.Do(ctx, alice) // Alice's claim, kept
				require.NoError(t, err)

				errDelete := errors.New("deleting Alice's claim row failed")
				reduce := newReduce(b, db, func(c *andromeda.ReduceQuotaUsageConfig) {
					c.GetQuotaLimit = db.limit() // bounds the undo
					c.Next = andromeda.UpdateQuotaUsageFunc(func(ctx context.Context, _ *andromeda.QuotaUsageRequest) (int64, error) {
						// Bob claims the unit Alice's cancel freed, while her row is being deleted.
						_, err := add.Do(ctx, req("pb", 1))
						assert.NoError(t, err, "Bob's claim fits: usage 0 of 1")
						return 0, errDelete
					})
				})
				_, err = reduce.Do(ctx, alice)
				require.ErrorIs(t, err, errDelete)
				t.Logf("reduce Do: %v", err)
				usage := b.get(t, keyOf("pb"))
				// Alice's cancel failed (her claim stays), Bob's claim stands: 2 claims, limit 1.
				assert.LessOrEqual(t, usage, int64(1), "usage %d on a limit of 1: oversold", usage)
			})
		})
	}
}
