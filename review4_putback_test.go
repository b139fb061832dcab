package andromeda_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A foreign value at the limit key makes the put-back of a reduce fail before it is sent
// (putBackLimit reads LimitKey): the reduce stays counted, so Do's error must wrap
// ErrUndoFailed and no sentinel that says nothing changed. ErrInvalidCachedUsage says
// "Nothing was changed" (errors.go), yet it stays in the chain.
func TestReview4ForeignLimitKeyUndoKeepsANothingChangedSentinel(t *testing.T) {
	for _, foreign := range []struct {
		name string
		set  func(t *testing.T, b backend, key string)
	}{
		{"string", func(t *testing.T, b backend, key string) { b.set(t, key, "05") }},
		{"hash", func(t *testing.T, b backend, key string) {
			require.NoError(t, b.client.HSet(context.Background(), key, "f", "v").Err())
		}},
	} {
		t.Run(foreign.name, func(t *testing.T) {
			eachRealBackend(t, func(t *testing.T, b backend) {
				ctx := context.Background()
				db := newQuotaDB()
				db.put("fl", 10, 0)
				_, err := newAdd(b, db, nil).Do(ctx, req("fl", 3))
				require.NoError(t, err)
				foreign.set(t, b, andromeda.LimitKey(keyOf("fl")))
				errNext := errors.New("deleting the claim failed")
				cancel := newReduce(b, db, func(c *andromeda.ReduceQuotaUsageConfig) {
					c.Next = andromeda.UpdateQuotaUsageFunc(func(context.Context, *andromeda.QuotaUsageRequest) (int64, error) {
						return 0, errNext
					})
				})
				_, err = cancel.Do(ctx, req("fl", 1))
				require.ErrorIs(t, err, errNext)
				require.Equal(t, int64(2), b.get(t, keyOf("fl")), "the reduce stayed applied")
				assert.ErrorIs(t, err, andromeda.ErrUndoFailed)
				assert.NotErrorIs(t, err, andromeda.ErrInvalidCachedUsage,
					"the reduce stayed counted: no sentinel that says nothing changed (%v)", err)
			})
		})
	}
}

// A reduce whose Next fails while the usage is above the quota's limit (the limit was
// lowered below the usage: SetQuotaLimit, or the database's limit) and no add ran meanwhile:
// nobody took the units it freed, so the README promises it is undone; ErrUndoFailed is
// only for "others' adds took the units it freed while its Next ran". The put-back is
// bounded by the limit alone and is refused: the cancel stays applied.
func TestReview4ReduceUndoRefusedAboveALoweredLimit(t *testing.T) {
	for _, tc := range []struct {
		name      string
		limitFunc bool
	}{
		{"GetQuotaLimit", true},
		{"limit kept in Redis", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eachRealBackend(t, func(t *testing.T, b backend) {
				ctx := context.Background()
				db := newQuotaDB()
				db.put("ll", 10, 0)
				_, err := newAdd(b, db, nil).Do(ctx, req("ll", 10))
				require.NoError(t, err)
				// The quota's limit is lowered to 5 while 10 are sold.
				db.put("ll", 5, 10)
				if !tc.limitFunc {
					require.NoError(t, andromeda.SetQuotaLimit(ctx, b.cache, keyOf("ll"), 5, 0))
				}
				errNext := errors.New("deleting the claim failed")
				cancel := newReduce(b, db, func(c *andromeda.ReduceQuotaUsageConfig) {
					if tc.limitFunc {
						c.GetQuotaLimit = db.limit()
					}
					c.Next = andromeda.UpdateQuotaUsageFunc(func(context.Context, *andromeda.QuotaUsageRequest) (int64, error) {
						return 0, errNext
					})
				})
				_, err = cancel.Do(ctx, req("ll", 1))
				require.ErrorIs(t, err, errNext)
				assert.Equal(t, int64(10), b.get(t, keyOf("ll")), "nothing took the freed unit: the reduce is undone")
				assert.NotErrorIs(t, err, andromeda.ErrUndoFailed, "%v", err)
			})
		})
	}
}
