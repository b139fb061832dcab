package andromeda_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A foreign value at the limit key (putBackLimit reads LimitKey) must not fail the undo
// of a reduce: without a limit it can read, the put-back is bounded by the usage before
// the reduce, which is always safe, and the reduce is undone; Do returns Next's error,
// without ErrUndoFailed or ErrInvalidCachedUsage.
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
				assert.Equal(t, int64(3), b.get(t, keyOf("fl")), "the reduce is undone")
				assert.NotErrorIs(t, err, andromeda.ErrUndoFailed)
				assert.NotErrorIs(t, err, andromeda.ErrInvalidCachedUsage, "%v", err)
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

// The same for several quotas, whose Quotas always carry GetQuotaLimit (the add needs it):
// the campaign's limit is lowered from 3 to 2 while 3 are sold; Alice's cancel (her quota
// and the campaign's) fails in Next with no add in between. Nothing took the freed units,
// yet the all-or-nothing put-back is refused on the campaign and the cancel stays applied
// on both quotas.
func TestReview4MultiReduceUndoRefusedAboveALoweredLimit(t *testing.T) {
	eachRealBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		var campaignLimit atomic.Int64
		campaignLimit.Store(3)
		userQ := func(_ context.Context, r *andromeda.QuotaRequest) (string, error) {
			return fmt.Sprintf("{r4camp}:user:%v", r.Data), nil
		}
		campQ := func(context.Context, *andromeda.QuotaRequest) (string, error) { return "{r4camp}:usage", nil }
		quotas := []andromeda.Quota{
			{GetQuotaLimit: fixed(1), GetQuotaUsageKey: andromeda.GetQuotaKeyFunc(userQ)},
			{GetQuotaLimit: andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) {
				return campaignLimit.Load(), nil
			}), GetQuotaUsageKey: andromeda.GetQuotaKeyFunc(campQ)},
		}
		claim := andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: quotas})
		for _, who := range []string{"alice", "bob", "carol"} {
			_, err := claim.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "c", Usage: 1, Data: who})
			require.NoError(t, err)
		}
		campaignLimit.Store(2)
		errNext := errors.New("deleting Alice's claim row failed")
		cancel := andromeda.ReduceMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: quotas,
			Next: andromeda.UpdateQuotaUsageFunc(func(context.Context, *andromeda.QuotaUsageRequest) (int64, error) {
				return 0, errNext
			})})
		_, err := cancel.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "c", Usage: 1, Data: "alice"})
		require.ErrorIs(t, err, errNext)
		assert.Equal(t, int64(3), b.get(t, "{r4camp}:usage"), "nothing took the freed unit: the cancel is undone")
		assert.Equal(t, int64(1), b.get(t, "{r4camp}:user:alice"), "nothing took the freed unit: the cancel is undone")
		assert.NotErrorIs(t, err, andromeda.ErrUndoFailed, "%v", err)
	})
}

// GetQuotaLimit is optional and "used only to undo a reduce whose Next failed ... when
// others' adds took the units it freed meanwhile, it stays applied". When it fails (the
// database that holds the limits is briefly down, the very kind of failure that made Next
// fail), the reduce is not put back at all, though no add ran: putting it back within the
// usage it started from never oversells and needs no limit.
func TestReview4ReduceUndoFailsWhenGetQuotaLimitFails(t *testing.T) {
	eachRealBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		db := newQuotaDB()
		db.put("gf", 10, 0)
		_, err := newAdd(b, db, nil).Do(ctx, req("gf", 4))
		require.NoError(t, err)
		errDown := errors.New("database down")
		cancel := newReduce(b, db, func(c *andromeda.ReduceQuotaUsageConfig) {
			c.GetQuotaLimit = andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) {
				return 0, errDown
			})
			c.Next = andromeda.UpdateQuotaUsageFunc(func(context.Context, *andromeda.QuotaUsageRequest) (int64, error) {
				return 0, errDown
			})
		})
		_, err = cancel.Do(ctx, req("gf", 1))
		require.ErrorIs(t, err, errDown)
		assert.Equal(t, int64(4), b.get(t, keyOf("gf")), "nothing took the freed unit: the reduce is undone")
		assert.NotErrorIs(t, err, andromeda.ErrUndoFailed, "%v", err)
	})
}
