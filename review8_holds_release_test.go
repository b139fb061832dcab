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

// Probe (passes). Expired holds are released inside add.lua / reduce.lua once the request
// is known to be valid. The claim flow around an expired hold: a keyed add of another
// amount changes nothing (the expired hold is not released by it); the compensating
// reduce, the retry of the add and a plain add each see the hold released first (no false
// "sold out"), and it is released once (usage ends exact).
func TestReview8ExpiredHoldAroundTheKeyedClaimFlow(t *testing.T) {
	eachRealBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		db := newQuotaDB()
		db.put("h8", 10, 0)
		add := newAdd(b, db, nil)
		reduce := newReduce(b, db, nil)
		holds := andromeda.NewQuotaHolds(andromeda.QuotaHoldsConfig{Cache: b.cache,
			Quota:   andromeda.Quota{GetQuotaLimit: db.limit(), GetQuotaUsage: db.usage(), GetQuotaUsageKey: usageKey},
			HoldFor: 100 * time.Millisecond})
		key := keyOf("h8")
		buckets, _ := andromeda.HoldKeys(key, "")
		claim := &andromeda.QuotaUsageRequest{QuotaID: "h8", Usage: 1, IdempotencyKey: "claim-8"}

		_, err := add.Do(ctx, claim)
		require.NoError(t, err)
		_, err = holds.Reserve.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "h8", Usage: 9, IdempotencyKey: "order-8"})
		require.NoError(t, err)
		require.Equal(t, int64(10), b.get(t, key))
		time.Sleep(250 * time.Millisecond) // the hold of 9 has expired, not yet released

		_, err = add.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "h8", Usage: 2, IdempotencyKey: "claim-8"})
		require.ErrorIs(t, err, andromeda.ErrInvalidRequest)
		n, _ := b.client.Exists(ctx, buckets).Result()
		assert.Equal(t, int64(10), b.get(t, key), "a request of another amount changes nothing")
		assert.Equal(t, int64(1), n, "its buckets are untouched")

		_, err = reduce.Do(ctx, claim) // the insert failed: compensate
		require.NoError(t, err)
		assert.Equal(t, int64(0), b.get(t, key), "the claim taken back and the expired hold released")

		usage, err := add.Do(ctx, claim) // the retry: a fresh attempt
		require.NoError(t, err)
		assert.Equal(t, int64(1), usage)
		usage, err = add.Do(ctx, req("h8", 9))
		require.NoError(t, err, "no false sold out")
		assert.Equal(t, int64(10), usage)
		_, err = add.Do(ctx, req("h8", 1))
		assert.True(t, errors.Is(err, andromeda.ErrQuotaLimitExceeded), "and no oversell: %v", err)
	})
}

// Probe (passes). A Reserve of another amount under a hold ID already recorded is
// ErrInvalidRequest and changes nothing: not even another, expired hold on the quota is
// released by it (hold.lua checks before it sweeps). The next valid call releases it.
func TestReview8ReserveOfAnotherAmountChangesNothing(t *testing.T) {
	b := standaloneBackend(t)
	ctx := context.Background()
	db := newQuotaDB()
	db.put("h9", 10, 0)
	holds := andromeda.NewQuotaHolds(andromeda.QuotaHoldsConfig{Cache: b.cache,
		Quota:   andromeda.Quota{GetQuotaLimit: db.limit(), GetQuotaUsage: db.usage(), GetQuotaUsageKey: usageKey},
		HoldFor: 100 * time.Millisecond})
	key := keyOf("h9")
	_, err := holds.Reserve.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "h9", Usage: 2, IdempotencyKey: "o1"})
	require.NoError(t, err)
	_, err = holds.Reserve.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "h9", Usage: 7, IdempotencyKey: "o2"})
	require.NoError(t, err)
	time.Sleep(250 * time.Millisecond) // both expired
	before, _ := b.client.Dump(ctx, key+":hold-buckets").Result()
	_, err = holds.Reserve.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "h9", Usage: 3, IdempotencyKey: "o1"})
	require.ErrorIs(t, err, andromeda.ErrInvalidRequest)
	after, _ := b.client.Dump(ctx, key+":hold-buckets").Result()
	assert.Equal(t, int64(9), b.get(t, key), "nothing released by a request of another amount")
	assert.Equal(t, before, after)
	usage, err := holds.Reserve.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "h9", Usage: 10, IdempotencyKey: "o3"})
	require.NoError(t, err, "no false sold out once a valid call released them")
	assert.Equal(t, int64(10), usage)
}
