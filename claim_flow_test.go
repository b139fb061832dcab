package andromeda_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The README's claim flow with an idempotency key, as issue 11 found it overselling:
// Alice's add (key A), her insert fails, her compensating reduce with the same request,
// her retry of the add. The retry used to replay "success, usage 1" while Redis stayed at
// 0, so Bob got the last unit too. Now the reduce takes the add back and the retry is a
// fresh attempt.
func TestClaimFlowWithIdempotencyKey(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		db := newQuotaDB()
		db.put("v1", 1, 0)
		add, reduce := newAdd(b, db, nil), newReduce(b, db, nil)
		alice := idem("v1", 1, "claim-alice")

		usage, err := add.Do(ctx, alice)
		require.NoError(t, err)
		assert.Equal(t, int64(1), usage)
		for i := 0; i < 2; i++ { // the insert failed: compensate, and the reduce is resent
			usage, err = reduce.Do(ctx, alice)
			require.NoError(t, err)
			assert.Equal(t, int64(0), usage)
		}
		usage, err = add.Do(ctx, alice) // the retry
		require.NoError(t, err)
		assert.Equal(t, int64(1), usage)
		assert.Equal(t, int64(1), b.get(t, keyOf("v1")), "the retry is counted")
		usage, err = add.Do(ctx, alice) // and resent
		require.NoError(t, err)
		assert.Equal(t, int64(1), usage)

		_, err = add.Do(ctx, idem("v1", 1, "claim-bob"))
		require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded, "one unit, one claim kept")
		assert.Equal(t, int64(1), b.get(t, keyOf("v1")))

		// A compensating reduce must carry the add's amount.
		_, err = reduce.Do(ctx, idem("v1", 2, "claim-alice"))
		require.ErrorIs(t, err, andromeda.ErrInvalidRequest)
		assert.Equal(t, int64(1), b.get(t, keyOf("v1")))
		// Bob's add was refused: his compensation has nothing to take back.
		usage, err = reduce.Do(ctx, idem("v1", 1, "claim-bob"))
		require.NoError(t, err)
		assert.Equal(t, int64(1), usage)
		assert.Equal(t, int64(1), b.get(t, keyOf("v1")))
	})
}

// Taking back an add whose usage key expired meanwhile: the add went with the key, so the
// loader's value (from the database, which never saw the failed insert) is not reduced.
func TestClaimCompensationAfterTheKeyExpired(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		db := newQuotaDB()
		db.put("v1", 10, 4)
		add, reduce := newAdd(b, db, nil), newReduce(b, db, nil)
		claim := idem("v1", 1, "claim-1")
		usage, err := add.Do(ctx, claim)
		require.NoError(t, err)
		assert.Equal(t, int64(5), usage)
		require.NoError(t, b.client.Del(ctx, keyOf("v1")).Err())
		usage, err = reduce.Do(ctx, claim)
		require.NoError(t, err)
		assert.Equal(t, int64(4), usage, "the database's 4, not 3")
		assert.Equal(t, int64(4), b.get(t, keyOf("v1")))
		usage, err = add.Do(ctx, claim)
		require.NoError(t, err)
		assert.Equal(t, int64(5), usage, "the retry is a fresh attempt")
	})
}

// 50 users race for 20 units. Each claims with its own key; 30% of the inserts that follow
// fail, and the user compensates with a reduce of the same request and retries, until its
// insert succeeds or its add is refused; some adds and reduces are sent twice, as after a
// lost reply. At the end usage equals the claims kept, which never pass the limit.
func TestClaimFlowUnderConcurrency(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		const users, limit = 50, 20
		db := newQuotaDB()
		db.put("v1", limit, 0)
		add, reduce := newAdd(b, db, nil), newReduce(b, db, nil)
		var kept, failedInserts, resent atomic.Int64
		var wg sync.WaitGroup
		for user := 0; user < users; user++ {
			wg.Add(1)
			go func(user int) {
				defer wg.Done()
				rng := rand.New(rand.NewSource(int64(user)))
				claim := idem("v1", 1, fmt.Sprint("claim-", user))
				ctx := context.Background()
				for {
					usage, err := add.Do(ctx, claim)
					if errors.Is(err, andromeda.ErrQuotaLimitExceeded) {
						return // sold out: nothing kept
					}
					if !assert.NoError(t, err) {
						return
					}
					if rng.Intn(5) == 0 {
						resent.Add(1)
						again, err := add.Do(ctx, claim)
						assert.NoError(t, err)
						assert.Equal(t, usage, again, "a resent add replays")
					}
					if rng.Intn(10) >= 3 { // the insert succeeded
						kept.Add(1)
						return
					}
					failedInserts.Add(1)
					for sends := 1 + rng.Intn(2); sends > 0; sends-- {
						_, err := reduce.Do(ctx, claim)
						if !assert.NoError(t, err) {
							return
						}
					}
				}
			}(user)
		}
		wg.Wait()
		usage := b.get(t, keyOf("v1"))
		t.Logf("%d claims kept, %d failed inserts compensated, %d adds resent; usage %d", kept.Load(), failedInserts.Load(), resent.Load(), usage)
		assert.Equal(t, kept.Load(), usage, "usage == claims kept")
		assert.LessOrEqual(t, usage, int64(limit))
		assert.Positive(t, failedInserts.Load())
		assert.Positive(t, kept.Load())
	})
}

// The undo of a failed Next speaks the same language: an add undone because its Next
// failed leaves nothing for a compensating reduce to take back; a compensating reduce
// whose Next fails puts the add back, so a repeat of the reduce takes it back again.
func TestClaimFlowWithNextFailing(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		db := newQuotaDB()
		db.put("v1", 1, 0)
		var fail atomic.Bool
		next := func(c *andromeda.UpdateQuotaUsage) {
			*c = andromeda.UpdateQuotaUsageFunc(func(context.Context, *andromeda.QuotaUsageRequest) (int64, error) {
				if fail.Load() {
					return 0, errNext
				}
				return 0, nil
			})
		}
		add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) { next(&c.Next) })
		reduce := newReduce(b, db, func(c *andromeda.ReduceQuotaUsageConfig) { next(&c.Next) })
		claim := idem("v1", 1, "claim-1")

		fail.Store(true)
		_, err := add.Do(ctx, claim)
		require.ErrorIs(t, err, errNext)
		assert.Zero(t, b.get(t, keyOf("v1")))
		fail.Store(false)
		usage, err := reduce.Do(ctx, claim)
		require.NoError(t, err, "nothing to take back")
		assert.Zero(t, usage)

		usage, err = add.Do(ctx, claim)
		require.NoError(t, err)
		assert.Equal(t, int64(1), usage, "a fresh attempt after the undo")
		fail.Store(true)
		_, err = reduce.Do(ctx, claim)
		require.ErrorIs(t, err, errNext)
		assert.Equal(t, int64(1), b.get(t, keyOf("v1")), "the reduce was put back: the add counts")
		fail.Store(false)
		usage, err = add.Do(ctx, claim)
		require.NoError(t, err)
		assert.Equal(t, int64(1), usage, "and replays")
		usage, err = reduce.Do(ctx, claim)
		require.NoError(t, err)
		assert.Zero(t, usage)
		assert.Zero(t, b.get(t, keyOf("v1")))
	})
}
