package andromeda_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// README, Guarantees 4: "A reduce knows the limit from its optional GetQuotaLimit, or from
// the limit kept in Redis (Option.CacheLimit); when it cannot read it, the usage it started
// from bounds the put-back" (TestReview4ReduceUndoFailsWhenGetQuotaLimitFails: a failing
// GetQuotaLimit still puts the reduce back). README, adapters: the undo runs "within
// andromeda.UndoTimeout (1 s) of its own: against a frozen Redis such a Do ends with
// ErrUndoFailed".
//
// Here Redis is fine; only the database behind GetQuotaLimit is slow (it honours its
// context, as a database call does). The undo's GetQuotaLimit gets the UndoTimeout
// context, spends all of it, and fails with the deadline: "cannot read it", so the usage
// the reduce started from should bound the put-back. But the put-back is then sent with
// the same, already expired, context and never reaches Redis: the refund stays applied
// although Next failed and nobody took the unit (one unit under-counted: a later add
// oversells it). Before UndoTimeout this undo finished.
func TestReview10SlowLimitLookupCutsThePutBack(t *testing.T) {
	runOn(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		db := newQuotaDB()
		db.put("sl", 10, 0)
		_, err := newAdd(b, db, nil).Do(ctx, req("sl", 4))
		require.NoError(t, err)
		errNext := errors.New("refund row insert failed")
		refund := newReduce(b, db, func(c *andromeda.ReduceQuotaUsageConfig) {
			c.GetQuotaLimit = andromeda.GetQuotaFunc(func(ctx context.Context, _ *andromeda.QuotaRequest) (int64, error) {
				select { // a slow database query, bounded by its context as usual
				case <-time.After(andromeda.UndoTimeout + 200*time.Millisecond):
					return 10, nil
				case <-ctx.Done():
					return 0, ctx.Err()
				}
			})
			c.Next = andromeda.UpdateQuotaUsageFunc(func(context.Context, *andromeda.QuotaUsageRequest) (int64, error) {
				return 0, errNext
			})
		})
		start := time.Now()
		_, err = refund.Do(ctx, req("sl", 1))
		t.Logf("after %v: err %v; usage in Redis %d", time.Since(start).Round(time.Millisecond), err, b.get(t, keyOf("sl")))
		require.ErrorIs(t, err, errNext)
		assert.Equal(t, int64(4), b.get(t, keyOf("sl")), "nothing took the freed unit: the refund is put back within the usage it started from")
		assert.NotErrorIs(t, err, andromeda.ErrUndoFailed, "%v", err)
	}, standaloneStarter)
}

// The same with a GetQuotaLimit that does not watch its context and answers in 1.1 s
// (a limit read from a slow service): the limit IS read, yet the put-back is refused to
// Redis by the expired context.
func TestReview10SlowLimitLookupIgnoringCtxCutsThePutBack(t *testing.T) {
	runOn(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		db := newQuotaDB()
		db.put("sm", 10, 0)
		_, err := newAdd(b, db, nil).Do(ctx, req("sm", 4))
		require.NoError(t, err)
		errNext := errors.New("refund row insert failed")
		refund := newReduce(b, db, func(c *andromeda.ReduceQuotaUsageConfig) {
			c.GetQuotaLimit = andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) {
				time.Sleep(andromeda.UndoTimeout + 100*time.Millisecond)
				return 10, nil
			})
			c.Next = andromeda.UpdateQuotaUsageFunc(func(context.Context, *andromeda.QuotaUsageRequest) (int64, error) {
				return 0, errNext
			})
		})
		_, err = refund.Do(ctx, req("sm", 1))
		t.Logf("err %v; usage in Redis %d", err, b.get(t, keyOf("sm")))
		require.ErrorIs(t, err, errNext)
		assert.Equal(t, int64(4), b.get(t, keyOf("sm")), "the limit was read: the refund is put back")
		assert.NotErrorIs(t, err, andromeda.ErrUndoFailed, "%v", err)
	}, standaloneStarter)
}

// Several quotas: the put-back of a cancel asks each quota's GetQuotaLimit in turn, inside
// the one UndoTimeout. Three quotas whose limits each take 400 ms (none near "frozen")
// leave the last look-up and the put-back itself past the second: the cancel stays
// applied on all three quotas, though Next failed and nothing took the freed units.
func TestReview10MultiPutBackCutByThreeSlowLimitLookups(t *testing.T) {
	runOn(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		slow := func(n int64) andromeda.GetQuota {
			return andromeda.GetQuotaFunc(func(ctx context.Context, _ *andromeda.QuotaRequest) (int64, error) {
				select {
				case <-time.After(400 * time.Millisecond):
					return n, nil
				case <-ctx.Done():
					return 0, ctx.Err()
				}
			})
		}
		quotas := []andromeda.Quota{
			{GetQuotaLimit: slow(1), GetQuotaUsageKey: constKey("{r10m}:user:alice")},
			{GetQuotaLimit: slow(10), GetQuotaUsageKey: constKey("{r10m}:shop")},
			{GetQuotaLimit: slow(100), GetQuotaUsageKey: constKey("{r10m}:campaign")},
		}
		for _, k := range []string{"{r10m}:user:alice", "{r10m}:shop", "{r10m}:campaign"} {
			b.set(t, k, 1)
		}
		errNext := errors.New("deleting Alice's claim row failed")
		cancel := andromeda.ReduceMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: quotas,
			Next: andromeda.UpdateQuotaUsageFunc(func(context.Context, *andromeda.QuotaUsageRequest) (int64, error) {
				return 0, errNext
			})})
		start := time.Now()
		_, err := cancel.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "c", Usage: 1})
		t.Logf("after %v: err %v; usages %d %d %d", time.Since(start).Round(time.Millisecond), err,
			b.get(t, "{r10m}:user:alice"), b.get(t, "{r10m}:shop"), b.get(t, "{r10m}:campaign"))
		require.ErrorIs(t, err, errNext)
		for _, k := range []string{"{r10m}:user:alice", "{r10m}:shop", "{r10m}:campaign"} {
			assert.Equal(t, int64(1), b.get(t, k), "nothing took the freed unit: the cancel is undone on %s", k)
		}
		assert.NotErrorIs(t, err, andromeda.ErrUndoFailed, "%v", err)
	}, standaloneStarter)
}
