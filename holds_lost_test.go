package andromeda_test

import (
	"context"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A usage key lost (evicted) while a hold is active: the loader reloads the usage from
// the database, which knows nothing of the hold. The hold must then count as expired, as
// the README says: a commit that kept it would sell its units a second time against the
// reloaded usage.
func TestCommitAfterUsageLostIsExpired(t *testing.T) {
	redistest.Require(t)
	rig := newResendRig(t, defaultClientCaches[0].cache)
	const key = "hl:{q}:usage"
	db := newQuotaDB()
	db.put("q", 10, 0)
	keyFunc := constKey(key)
	holds := andromeda.NewQuotaHolds(andromeda.QuotaHoldsConfig{
		Cache: rig.cache,
		Quota: andromeda.Quota{
			GetQuotaLimit:    db.limit(),
			GetQuotaUsage:    db.usage(),
			GetQuotaUsageKey: keyFunc,
		},
		GetQuotaUsageConfig: fastRetry,
		HoldFor:             time.Minute,
	})
	add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: rig.cache, GetQuotaLimit: db.limit(), GetQuotaUsage: db.usage(),
		GetQuotaUsageKey: keyFunc, GetQuotaUsageConfig: fastRetry})
	ctx := context.Background()
	hold := &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: 4, IdempotencyKey: "hold-1"}
	_, err := holds.Reserve.Do(ctx, hold)
	require.NoError(t, err)
	require.NoError(t, rig.direct.Del(ctx, key).Err()) // evicted
	usage, err := add.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: 10})
	require.NoError(t, err, "reloaded at 0: all 10 sell")
	assert.Equal(t, int64(10), usage)
	_, err = holds.Commit.Do(ctx, hold)
	assert.ErrorIs(t, err, andromeda.ErrHoldExpired, "the hold was lost with the usage")
	assert.Equal(t, int64(10), rig.usage(t, key))
}
