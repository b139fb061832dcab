package cachetest

import (
	"context"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/internal/storetypes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testDeleteUsage: DeleteUsage removes the usage and the keys derived from it in one step,
// and reports what it removed; a value andromeda did not write is reported and kept.
func testDeleteUsage(t *testing.T, h Harness) {
	ctx := context.Background()
	buckets, _ := andromeda.HoldKeys("k", "")
	require.NoError(t, h.SetRaw(ctx, "k", "3"))
	res, err := h.s.ChangeHold(ctx, hold(storetypes.HoldReserve, "a", 2))
	require.NoError(t, err)
	require.Equal(t, storetypes.CacheApplied, res.Status)

	usage, found, err := h.s.DeleteUsage(ctx, "k", []string{buckets})
	require.NoError(t, err)
	assert.True(t, found)
	assert.Equal(t, int64(5), usage, "committed 3 + held 2")
	assertAbsent(t, h, "k")
	assertAbsent(t, h, buckets)

	// The hold was forgotten with the usage: a usage stored afresh never counted it.
	require.NoError(t, h.SetRaw(ctx, "k", "3"))
	res, err = h.s.ChangeHold(ctx, hold(storetypes.HoldCommit, "a", 0))
	require.NoError(t, err)
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheHoldExpired, Usage: 3}, res)
	res, err = h.s.ChangeHold(ctx, hold(storetypes.HoldCancel, "a", 0))
	require.NoError(t, err)
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheApplied, Usage: 3, Replayed: true}, res, "nothing given back")
	assertRaw(t, h, "k", "3")

	usage, found, err = h.s.DeleteUsage(ctx, "absent", nil)
	require.NoError(t, err)
	assert.False(t, found)
	assert.Zero(t, usage)

	require.NoError(t, h.SetRaw(ctx, "foreign", "x"))
	_, _, err = h.s.DeleteUsage(ctx, "foreign", nil)
	assert.ErrorIs(t, err, andromeda.ErrInvalidCachedUsage)
	assertRaw(t, h, "foreign", "x")
}

// testReduceZeroReleasesHolds: a reduce of 0 releases the expired holds and changes
// nothing else (andromeda.ReleaseExpiredHolds).
func testReduceZeroReleasesHolds(t *testing.T, h Harness) {
	ctx := context.Background()
	require.NoError(t, h.SetRaw(ctx, "k", "1"))
	short := hold(storetypes.HoldReserve, "a", 4)
	short.HoldFor = 100 * time.Millisecond
	for _, args := range []storetypes.HoldArgs{short, hold(storetypes.HoldReserve, "b", 2)} {
		_, err := h.s.ChangeHold(ctx, args)
		require.NoError(t, err)
	}
	assertRaw(t, h, "k", "7")
	time.Sleep(250 * time.Millisecond) // the scripts read the server's clock

	res, err := h.s.ReduceUsage(ctx, storetypes.ReduceUsageArgs{Key: "k"})
	require.NoError(t, err)
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheApplied, Usage: 3}, res, "a's 4 released, b's 2 still held")
	assertRaw(t, h, "k", "3")

	res, err = h.s.ReduceUsage(ctx, storetypes.ReduceUsageArgs{Key: "absent"})
	require.NoError(t, err)
	assert.Equal(t, storetypes.CacheMissing, res.Status)
	assertAbsent(t, h, "absent")
}
