package andromeda_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Two Do calls with one idempotency key overlap (a queue redelivers a message while its
// first delivery is still being handled). The first applies the add and waits in Next;
// the second is a repeat: it gets the first outcome ("applied"), and its Next (the
// insert) succeeds. Then the first's Next fails and it undoes the add. The claim the
// second Do kept is then counted nowhere: "a repeat returns the first outcome ... and
// changes nothing" (README, "Counting once"), but the first outcome was taken back after
// it was handed out.
//
// KNOWN LIMIT (skipped, in the README): usage 0 with one claim kept and reported applied.
func TestRepeatDuringNextOfTheFirstDo(t *testing.T) {
	t.Skip("known limit, listed in the README (Known limits): two Do calls with one key at once share one outcome")
	eachBackend(t, func(t *testing.T, b backend) {
		db := newQuotaDB()
		db.put("cr", 10, 0)
		errNext := errors.New("insert failed")
		inNext, release := make(chan struct{}), make(chan struct{})
		first := true
		add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) {
			c.Next = andromeda.UpdateQuotaUsageFunc(func(context.Context, *andromeda.QuotaUsageRequest) (int64, error) {
				if first { // only the first Do gets here before release; no race
					first = false
					close(inNext)
					<-release
					return 0, errNext
				}
				return 1, nil
			})
		})
		ctx := context.Background()
		claim := func() *andromeda.QuotaUsageRequest {
			return &andromeda.QuotaUsageRequest{QuotaID: "cr", Usage: 1, IdempotencyKey: "msg-1"}
		}
		done := make(chan error, 1)
		go func() {
			_, err := add.Do(ctx, claim())
			done <- err
		}()
		<-inNext
		_, err := add.Do(ctx, claim()) // the redelivery: a repeat, its insert succeeds
		require.NoError(t, err)
		close(release)
		require.ErrorIs(t, <-done, errNext)
		assert.Equal(t, int64(1), b.get(t, keyOf("cr")), "one claim kept (the repeat's), reported applied")
	})
}

// The claim is kept: a keyed add and its Next (the insert) succeed, but the reply is lost,
// so the whole claim is retried with the same key. The repeat is told "applied" (the
// first outcome) and its Next fails because the row is already there. README
// ("Counting once"): then "the claim is kept: do not compensate"; but with Next in the
// config the library's own undo compensates, and a repeat "changes nothing".
//
// The library cannot tell a repeat of a kept claim from a retry of an add whose outcome was
// unknown: both replay "applied". So Next decides: it must succeed when it finds its work
// done. The second half shows what happens when it does not.
func TestRepeatWhoseNextFailsKeepsTheFirstClaim(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := newQuotaDB()
		db.put("rk", 10, 0)
		errDup := errors.New("duplicate row")
		rows := 0
		add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) {
			c.Next = andromeda.UpdateQuotaUsageFunc(func(context.Context, *andromeda.QuotaUsageRequest) (int64, error) {
				if rows > 0 {
					return 0, errDup
				}
				rows++
				return 1, nil
			})
		})
		// The rule the README states: a keyed Do's Next must succeed when it finds its work
		// done already (the claim's row is there), or the undo takes back the kept claim.
		idempotentNext := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) {
			c.Next = andromeda.UpdateQuotaUsageFunc(func(context.Context, *andromeda.QuotaUsageRequest) (int64, error) {
				if rows == 0 {
					rows++
				}
				return 1, nil // a duplicate row is this claim's own: done
			})
		})
		ctx := context.Background()
		claim := func() *andromeda.QuotaUsageRequest {
			return &andromeda.QuotaUsageRequest{QuotaID: "rk", Usage: 1, IdempotencyKey: "claim-5"}
		}
		_, err := idempotentNext.Do(ctx, claim())
		require.NoError(t, err) // its reply is lost on the way to the user
		_, err = idempotentNext.Do(ctx, claim())
		require.NoError(t, err)
		assert.Equal(t, int64(rows), b.get(t, keyOf("rk")), "usage equals the rows kept")

		// A Next that fails on its own duplicate breaks the rule: the undo takes the kept
		// claim's add back, as the README warns.
		_, err = add.Do(ctx, claim())
		require.ErrorIs(t, err, errDup)
		assert.Equal(t, int64(0), b.get(t, keyOf("rk")), "the kept claim lost its unit")
	})
}
