package cachetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ramadani/andromeda/internal/storetypes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testEveryScriptReleasesHolds: whatever call comes next on a quota whose holds expired,
// it sees them released. An implementation that runs the usage scripts without the
// quota's hold buckets (see andromeda.HoldKeys) fails it.
func testEveryScriptReleasesHolds(t *testing.T, h Harness) {
	ctx := context.Background()
	const holdFor = 300 * time.Millisecond // long enough that none ends while the five are made, on a slow machine with WAIT
	// expireHolds sets the usage at each key to 0, holds 5 of it for holdFor in holds of
	// their own, and waits until the holds expired.
	round := 0
	expireHolds := func(keys ...string) {
		t.Helper()
		round++
		for _, key := range keys {
			require.NoError(t, h.SetRaw(ctx, key, "0"))
			for i := 0; i < 5; i++ {
				id := fmt.Sprintf("%d-%d", round, i)
				res, err := h.s.ChangeHold(ctx, storetypes.HoldArgs{Op: storetypes.HoldReserve, Key: key, HoldID: id,
					Amount: 1, Limit: 5, HoldFor: holdFor, Retention: time.Minute})
				require.NoError(t, err)
				require.Equal(t, storetypes.CacheApplied, res.Status)
			}
			assertRaw(t, h, key, "5")
		}
		time.Sleep(holdFor + 150*time.Millisecond) // the scripts read the server's clock
	}

	expireHolds("k")
	res, err := h.s.AddUsage(ctx, storetypes.AddUsageArgs{Key: "k", Amount: 5, Limit: 5})
	require.NoError(t, err)
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheApplied, Usage: 5, Limit: 5}, res, "add")

	expireHolds("k")
	results, err := h.s.AddUsageBatch(ctx, []storetypes.AddUsageArgs{{Key: "k", Amount: 2, Limit: 5}, {Key: "k", Amount: 3, Limit: 5}})
	require.NoError(t, err)
	assert.Equal(t, []storetypes.CacheResult{{Status: storetypes.CacheApplied, Usage: 2, Limit: 5},
		{Status: storetypes.CacheApplied, Usage: 5, Limit: 5}}, results, "batch")

	expireHolds("k")
	require.NoError(t, h.SetRaw(ctx, "k", "8")) // 3 committed besides the 5 expired
	_, err = h.s.ReduceUsage(ctx, storetypes.ReduceUsageArgs{Key: "k", Amount: 3})
	require.NoError(t, err)
	assertRaw(t, h, "k", "0") // released, then reduced

	expireHolds("{m}:campaign", "{m}:user")
	multi, err := h.s.AddUsages(ctx, []storetypes.AddUsageArgs{{Key: "{m}:campaign", Amount: 5, Limit: 5}, {Key: "{m}:user", Amount: 5, Limit: 5}})
	require.NoError(t, err)
	assert.Equal(t, storetypes.MultiResult{Status: storetypes.CacheApplied, Index: -1, Usages: []int64{5, 5}}, multi, "several quotas")

	expireHolds("{m}:campaign", "{m}:user")
	multi, err = h.s.ReduceUsages(ctx, []string{"{m}:campaign", "{m}:user"}, 1)
	require.NoError(t, err)
	assert.Equal(t, storetypes.CacheBelowZero, multi.Status, "released before the reduce: nothing left to reduce")
}
