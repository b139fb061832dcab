package andromeda_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ramadani/andromeda"
)

// Review 6. An amount that does not match the claim its key names. The library keeps the
// amount in every add's record ("state usage limit amount") and refuses a reduce of
// another amount with ErrInvalidRequest (README: "a reduce of another amount than the
// add's fails with ErrInvalidRequest"; Guarantee 6: bad input gets a clear error). An add
// or a reserve of another amount under the same key is not checked: it replays the first
// outcome as its own.
//
//   - applied: an order keyed "order-1" for 1 unit is applied; the order is edited to 5
//     units and resubmitted with its ID: Do answers success (usage 1), the caller ships 5,
//     Redis counted 1, and 9 more units are sold to others against a limit of 10: 14 out
//     of 10. Its compensating reduce of 5 is then refused as invalid.
//   - refused: a keyed add of 11 (limit 10) is refused; the same key with 1 unit is
//     refused too, with a *QuotaError that contradicts itself: add 1, usage 0, limit 10.
//   - reserve: a hold of 1 reserved; the same hold ID for 5 answers success; Commit keeps 1.
func TestReview6KeyedAddOfAnotherAmount(t *testing.T) {
	eachRealBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		key := "r6k:{x}:usage"
		add := reviewAdd(b, key, func(c *andromeda.AddQuotaUsageConfig) { c.GetQuotaLimit = constLimit(10) })

		t.Run("applied", func(t *testing.T) {
			b.flush(t)
			b.set(t, key, 0)
			usage, err := add.Do(ctx, keyed(1, "order-1"))
			require.NoError(t, err)
			require.Equal(t, int64(1), usage)
			before := review6Dump(t, b)
			usage, err = add.Do(ctx, keyed(5, "order-1")) // the same order, edited to 5 units
			review6SameDump(t, before, review6Dump(t, b), time.Second, "a keyed add of another amount")
			sold := int64(1)
			if err == nil {
				sold = 5 // what the caller was told it has
			}
			for i := 0; i < 9; i++ {
				if _, err := add.Do(ctx, req("q", 1)); err == nil {
					sold++
				}
			}
			t.Logf("told applied: %d units; Redis counts %d; limit 10", sold, b.get(t, key))
			assert.ErrorIs(t, err, andromeda.ErrInvalidRequest, "an add of 5 under the key of an add of 1 (Do answered usage %d)", usage)
			assert.LessOrEqual(t, sold, int64(10), "units the callers were told they got, against a limit of 10")
			_, err = reviewReduce(b, key, nil).Do(ctx, keyed(5, "order-1"))
			assert.ErrorIs(t, err, andromeda.ErrInvalidRequest, "the reduce side does check the amount")
		})

		t.Run("refused", func(t *testing.T) {
			b.flush(t)
			b.set(t, key, 0)
			_, err := add.Do(ctx, keyed(11, "order-2"))
			require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded)
			_, err = add.Do(ctx, keyed(1, "order-2"))
			var qerr *andromeda.QuotaError
			require.ErrorAs(t, err, &qerr)
			t.Logf("%v", err)
			if assert.NotErrorIs(t, err, andromeda.ErrQuotaLimitExceeded, "an add of 1 at usage 0 of 10 fits") {
				assert.ErrorIs(t, err, andromeda.ErrInvalidRequest)
			} else {
				assert.Greater(t, qerr.Usage+qerr.Requested, qerr.Limit, "a refusal whose own numbers fit: usage %d + %d <= limit %d",
					qerr.Usage, qerr.Requested, qerr.Limit)
			}
		})

		t.Run("reserve", func(t *testing.T) {
			b.flush(t)
			b.set(t, key, 0)
			holds := review6Holds(b, key, 10, time.Hour)
			_, err := holds.Reserve.Do(ctx, keyed(1, "hold-1"))
			require.NoError(t, err)
			usage, err := holds.Reserve.Do(ctx, keyed(5, "hold-1"))
			assert.ErrorIs(t, err, andromeda.ErrInvalidRequest, "a reserve of 5 under the ID of a hold of 1 (Do answered usage %d)", usage)
			usage, err = holds.Commit.Do(ctx, keyed(0, "hold-1"))
			require.NoError(t, err)
			t.Logf("committed: usage %d", usage)
		})
	})
}
