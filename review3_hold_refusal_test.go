package andromeda_test

import (
	"context"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Held: a reserve refused for the limit is recorded; its repeat (even once the amount
// fits, even after the usage was forgotten and reloaded) replays the refusal; Commit says
// no such hold, Cancel changes nothing; after Retention the ID is free again. A repeat of
// another amount is invalid (one hold ID names one reserve; this test once asserted a
// replayed refusal for it, before review 6 showed an admitted repeat of another amount
// answering for units it never held).
func TestReview3RefusedReserveRecord(t *testing.T) {
	eachRealBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		db := newQuotaDB()
		db.put("rr", 3, 0)
		holds := andromeda.NewQuotaHolds(andromeda.QuotaHoldsConfig{Cache: b.cache, HoldFor: time.Minute,
			Retention: 300 * time.Millisecond, GetQuotaUsageConfig: fastRetry,
			Quota: andromeda.Quota{GetQuotaLimit: db.limit(), GetQuotaUsage: db.usage(), GetQuotaUsageKey: usageKey}})
		_, err := holds.Reserve.Do(ctx, idem("rr", 3, "o0"))
		require.NoError(t, err)
		_, err = holds.Reserve.Do(ctx, idem("rr", 2, "o1"))
		require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded)
		_, err = holds.Cancel.Do(ctx, idem("rr", 0, "o0"))
		require.NoError(t, err)
		_, err = holds.Reserve.Do(ctx, idem("rr", 2, "o1"))
		assert.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded, "a repeat replays the refusal, though 2 fits now")
		_, err = holds.Reserve.Do(ctx, idem("rr", 1, "o1"))
		assert.ErrorIs(t, err, andromeda.ErrInvalidRequest, "a repeat of another amount")
		_, err = holds.Commit.Do(ctx, idem("rr", 0, "o1"))
		assert.ErrorIs(t, err, andromeda.ErrHoldNotFound)
		u, err := holds.Cancel.Do(ctx, idem("rr", 0, "o1"))
		assert.NoError(t, err)
		assert.Equal(t, int64(0), u)
		_, _, err = andromeda.ForgetUsage(ctx, b.cache, keyOf("rr"))
		require.NoError(t, err)
		_, err = holds.Reserve.Do(ctx, idem("rr", 2, "o1"))
		assert.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded, "the record outlives a forget")
		time.Sleep(400 * time.Millisecond)
		u, err = holds.Reserve.Do(ctx, idem("rr", 1, "o1"))
		assert.NoError(t, err, "after Retention the ID is free")
		assert.Equal(t, int64(1), u)
		usages, err := andromeda.ReadCachedUsages(ctx, b.cache, usageKey, []*andromeda.QuotaRequest{{QuotaID: "rr"}})
		require.NoError(t, err)
		assert.Equal(t, andromeda.CachedUsage{QuotaID: "rr", Key: keyOf("rr"), Usage: 0, Held: 1, Found: true}, usages[0])
	})
}
