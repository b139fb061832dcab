package cachetest

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/internal/storetypes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// foreignValues are strings someone else may have written at a usage or limit key that
// are not usages: only "0" to "9007199254740992", written as INCRBY writes them, are.
var foreignValues = []string{"-5", "-1", "-0", "05", "00", "+1", " 1", "1 ", "1.0", "1e3", "0x10", "", "abc",
	"9007199254740993", "10000000000000000", "-9007199254740992"}

// maxAmount is 2^53, the largest usage.
const maxAmount = andromeda.MaxAmount

// Every script that reads a foreign value reports it, naming the key and the value, and
// changes nothing: no usage, no limit, no idempotency record.
func testForeignValues(t *testing.T, h Harness) {
	ctx := context.Background()
	rec := storetypes.Idempotency{RecordKey: "{k}:rec", Retention: time.Hour}
	for _, raw := range foreignValues {
		invalid := func(err error, what string) {
			t.Helper()
			require.ErrorIs(t, err, andromeda.ErrInvalidCachedUsage, "%s on %q", what, raw)
			assert.Contains(t, err.Error(), strconv.Quote(raw), "%s: the error names the value", what)
		}
		require.NoError(t, h.SetRaw(ctx, "k", raw))
		_, err := h.s.AddUsage(ctx, storetypes.AddUsageArgs{Key: "k", Amount: 1, Limit: 10})
		invalid(err, "add")
		assert.Contains(t, err.Error(), `"k"`, "the error names the key")
		_, err = h.s.AddUsage(ctx, storetypes.AddUsageArgs{Key: "k", Amount: 1, Limit: 10, Idempotency: rec})
		invalid(err, "idempotent add")
		_, err = h.s.AddUsage(ctx, storetypes.AddUsageArgs{Key: "k", Amount: 1, Limit: 10, CreateMissing: true})
		invalid(err, "add creating a missing key")
		_, err = h.s.AddUsageBatch(ctx, []storetypes.AddUsageArgs{{Key: "k", Amount: 1, Limit: 10}})
		invalid(err, "batch of one")
		_, err = h.s.AddUsageBatch(ctx, []storetypes.AddUsageArgs{{Key: "k", Amount: 1, Limit: 10}, {Key: "k", Amount: 1, Limit: 10}})
		invalid(err, "batch")
		_, err = h.s.ReduceUsage(ctx, storetypes.ReduceUsageArgs{Key: "k", Amount: 1})
		invalid(err, "reduce")
		_, err = h.s.ReduceUsage(ctx, storetypes.ReduceUsageArgs{Key: "k", Amount: 1, Idempotency: rec})
		invalid(err, "idempotent reduce")
		assertRaw(t, h, "k", raw)
		assertAbsent(t, h, "{k}:rec")

		require.NoError(t, h.SetRaw(ctx, "{m}:a", "1"))
		require.NoError(t, h.SetRaw(ctx, "{m}:b", raw))
		_, err = h.s.AddUsages(ctx, []storetypes.AddUsageArgs{{Key: "{m}:a", Amount: 1, Limit: 10}, {Key: "{m}:b", Amount: 1, Limit: 10}})
		invalid(err, "multi add")
		assert.Contains(t, err.Error(), `"{m}:b"`)
		_, err = h.s.ReduceUsages(ctx, []string{"{m}:a", "{m}:b"}, 1)
		invalid(err, "multi reduce")
		assertRaw(t, h, "{m}:a", "1")
		assertRaw(t, h, "{m}:b", raw)

		// A limit someone else wrote.
		limitKey := andromeda.LimitKey("u")
		require.NoError(t, h.SetRaw(ctx, "u", "1"))
		require.NoError(t, h.SetRaw(ctx, limitKey, raw))
		_, err = h.s.AddUsage(ctx, storetypes.AddUsageArgs{Key: "u", Amount: 1, LimitKey: limitKey})
		invalid(err, "add against a limit key")
		assert.Contains(t, err.Error(), strconv.Quote(limitKey), "the error names the limit key")
		_, err = h.s.AddUsageBatch(ctx, []storetypes.AddUsageArgs{{Key: "u", Amount: 1, LimitKey: limitKey}})
		invalid(err, "batch against a limit key")
		assertRaw(t, h, "u", "1")
	}
}

// Every decision is exact at 2^53 (MaxAmount): doubles would take 2^53-1 + 2 for 2^53.
func testExactAt2To53(t *testing.T, h Harness) {
	ctx := context.Background()
	add := func(key string, amount, limit int64) storetypes.CacheResult {
		t.Helper()
		res, err := h.s.AddUsage(ctx, storetypes.AddUsageArgs{Key: key, Amount: amount, Limit: limit})
		require.NoError(t, err)
		return res
	}
	require.NoError(t, h.SetRaw(ctx, "k", strconv.Itoa(maxAmount-1)))
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheLimitExceeded, Usage: maxAmount - 1, Limit: maxAmount}, add("k", 2, maxAmount))
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheApplied, Usage: maxAmount, Limit: maxAmount}, add("k", 1, maxAmount))
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheLimitExceeded, Usage: maxAmount, Limit: maxAmount}, add("k", 1, maxAmount))
	assert.Equal(t, storetypes.CacheLimitExceeded, add("k", maxAmount, maxAmount).Status)
	assertRaw(t, h, "k", strconv.Itoa(maxAmount))

	// One unit left: a batch of 64 adds of 1 admits exactly one.
	require.NoError(t, h.SetRaw(ctx, "k", strconv.Itoa(maxAmount-1)))
	batch := make([]storetypes.AddUsageArgs, 64)
	for i := range batch {
		batch[i] = storetypes.AddUsageArgs{Key: "k", Amount: 1, Limit: maxAmount}
	}
	results, err := h.s.AddUsageBatch(ctx, batch)
	require.NoError(t, err)
	admitted := 0
	for _, r := range results {
		if r.Status == storetypes.CacheApplied {
			admitted++
			assert.Equal(t, int64(maxAmount), r.Usage)
		}
	}
	assert.Equal(t, 1, admitted)
	assertRaw(t, h, "k", strconv.Itoa(maxAmount))

	// The limit kept at a limit key, and a key created by the add.
	limitKey := andromeda.LimitKey("k")
	require.NoError(t, h.SetRaw(ctx, limitKey, strconv.Itoa(maxAmount)))
	require.NoError(t, h.SetRaw(ctx, "k", strconv.Itoa(maxAmount-1)))
	res, err := h.s.AddUsage(ctx, storetypes.AddUsageArgs{Key: "k", Amount: 2, LimitKey: limitKey})
	require.NoError(t, err)
	assert.Equal(t, storetypes.CacheLimitExceeded, res.Status)
	res, err = h.s.AddUsage(ctx, storetypes.AddUsageArgs{Key: "new", Amount: maxAmount, Limit: maxAmount, CreateMissing: true})
	require.NoError(t, err)
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheApplied, Usage: maxAmount, Limit: maxAmount}, res)
	assertRaw(t, h, "new", strconv.Itoa(maxAmount))

	// Several quotas: all or nothing, exactly.
	require.NoError(t, h.SetRaw(ctx, "{m}:a", strconv.Itoa(maxAmount-1)))
	require.NoError(t, h.SetRaw(ctx, "{m}:b", "0"))
	quotas := []storetypes.AddUsageArgs{{Key: "{m}:b", Amount: 2, Limit: maxAmount}, {Key: "{m}:a", Amount: 2, Limit: maxAmount}}
	multi, err := h.s.AddUsages(ctx, quotas)
	require.NoError(t, err)
	assert.Equal(t, storetypes.MultiResult{Status: storetypes.CacheLimitExceeded, Index: 1, Usages: []int64{0, maxAmount - 1}}, multi)
	quotas[0].Amount, quotas[1].Amount = 1, 1
	multi, err = h.s.AddUsages(ctx, quotas)
	require.NoError(t, err)
	assert.Equal(t, storetypes.MultiResult{Status: storetypes.CacheApplied, Index: -1, Usages: []int64{1, maxAmount}}, multi)

	// Reduces.
	reduce := func(key string, amount int64) storetypes.CacheResult {
		t.Helper()
		res, err := h.s.ReduceUsage(ctx, storetypes.ReduceUsageArgs{Key: key, Amount: amount})
		require.NoError(t, err)
		return res
	}
	require.NoError(t, h.SetRaw(ctx, "k", strconv.Itoa(maxAmount-1)))
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheBelowZero, Usage: maxAmount - 1}, reduce("k", maxAmount))
	require.NoError(t, h.SetRaw(ctx, "k", strconv.Itoa(maxAmount)))
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheApplied, Usage: 1}, reduce("k", maxAmount-1))
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheApplied, Usage: 0}, reduce("k", 1))
	multi, err = h.s.ReduceUsages(ctx, []string{"{m}:a", "{m}:b"}, maxAmount)
	require.NoError(t, err)
	assert.Equal(t, storetypes.MultiResult{Status: storetypes.CacheBelowZero, Index: 1, Usages: []int64{maxAmount, 1}}, multi)
	multi, err = h.s.ReduceUsages(ctx, []string{"{m}:a", "{m}:b"}, 1)
	require.NoError(t, err)
	assert.Equal(t, storetypes.MultiResult{Status: storetypes.CacheApplied, Index: -1, Usages: []int64{maxAmount - 1, 0}}, multi)

	// Putting back a reduce stops at MaxAmount, beyond which usage could not be read.
	require.NoError(t, h.SetRaw(ctx, "k", strconv.Itoa(maxAmount-1)))
	require.NoError(t, h.SetRaw(ctx, "{k}:rec", "0 0"))
	putBack := storetypes.AddUsageArgs{Key: "k", Amount: 2, Limit: maxAmount,
		Idempotency: storetypes.Idempotency{RecordKey: "{k}:rec", Retention: time.Hour, Forget: true}}
	res, err = h.s.AddUsage(ctx, putBack)
	require.NoError(t, err)
	assert.Equal(t, storetypes.CacheLimitExceeded, res.Status)
	assertRaw(t, h, "k", strconv.Itoa(maxAmount-1))
	putBack.Amount = 1
	res, err = h.s.AddUsage(ctx, putBack)
	require.NoError(t, err)
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheApplied, Usage: maxAmount}, res)
}

// A reduce that carries the record of an add takes that add back once, and the add's
// next try is a fresh attempt (see storetypes.Idempotency.AddRecordKey).
func testReduceTakesBackAdd(t *testing.T, h Harness) {
	ctx := context.Background()
	addRec := storetypes.Idempotency{RecordKey: "{k}:add:A", Retention: time.Hour}
	reduceRec := storetypes.Idempotency{RecordKey: "{k}:reduce:A", AddRecordKey: "{k}:add:A", Retention: time.Hour}
	add := func(amount int64) storetypes.CacheResult {
		t.Helper()
		res, err := h.s.AddUsage(ctx, storetypes.AddUsageArgs{Key: "k", Amount: amount, Limit: 1, Idempotency: addRec})
		require.NoError(t, err)
		return res
	}
	reduce := func(amount int64) storetypes.CacheResult {
		t.Helper()
		res, err := h.s.ReduceUsage(ctx, storetypes.ReduceUsageArgs{Key: "k", Amount: amount, Idempotency: reduceRec})
		require.NoError(t, err)
		return res
	}
	require.NoError(t, h.SetRaw(ctx, "k", "0"))
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheApplied, Usage: 1, Limit: 1}, add(1))
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheApplied, Usage: 0}, reduce(1), "takes the add back")
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheApplied, Usage: 0, Replayed: true}, reduce(1), "once")
	assertAbsent(t, h, "{k}:reduce:A")
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheApplied, Usage: 1, Limit: 1}, add(1), "a fresh attempt")
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheApplied, Usage: 1, Limit: 1, Replayed: true}, add(1))

	_, err := h.s.ReduceUsage(ctx, storetypes.ReduceUsageArgs{Key: "k", Amount: 2, Idempotency: reduceRec})
	require.ErrorIs(t, err, andromeda.ErrInvalidRequest, "not the add's amount")
	assertRaw(t, h, "k", "1")
	// One key names one request: an add of another amount is refused too, not replayed,
	// and so is a reduce of its own (a refund) of another amount.
	_, err = h.s.AddUsage(ctx, storetypes.AddUsageArgs{Key: "k", Amount: 2, Limit: 5, Idempotency: addRec})
	require.ErrorIs(t, err, andromeda.ErrInvalidRequest, "an add of another amount")
	assertRaw(t, h, "k", "1")
	ownRefund := storetypes.Idempotency{RecordKey: "{k}:refund:R", Retention: time.Hour, Attempt: "a1"}
	res, err := h.s.ReduceUsage(ctx, storetypes.ReduceUsageArgs{Key: "k", Amount: 1, Idempotency: ownRefund})
	require.NoError(t, err)
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheApplied, Usage: 0}, res)
	_, err = h.s.ReduceUsage(ctx, storetypes.ReduceUsageArgs{Key: "k", Amount: 2, Idempotency: ownRefund})
	require.ErrorIs(t, err, andromeda.ErrInvalidRequest, "a refund of another amount")
	res, err = h.s.ReduceUsage(ctx, storetypes.ReduceUsageArgs{Key: "k", Amount: 1, Idempotency: ownRefund})
	require.NoError(t, err)
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheApplied, Usage: 0, Replayed: true}, res, "its repeat replays")
	require.NoError(t, h.SetRaw(ctx, "k", "1"))

	// Next failed after the reduce: putting it back makes the add count again.
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheApplied, Usage: 0}, reduce(1))
	putBack := storetypes.Idempotency{RecordKey: "{k}:reduce:A", AddRecordKey: "{k}:add:A", Retention: time.Hour, Forget: true}
	for i := 0; i < 2; i++ {
		res, err := h.s.AddUsage(ctx, storetypes.AddUsageArgs{Key: "k", Amount: 1, Limit: maxAmount, Idempotency: putBack})
		require.NoError(t, err)
		assert.Equal(t, i > 0, res.Replayed, "put back once")
	}
	assertRaw(t, h, "k", "1")
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheApplied, Usage: 1, Limit: 1, Replayed: true}, add(1))

	// Next failed after the add: its undo takes it back once, as a reduce would.
	undo := storetypes.Idempotency{RecordKey: "{k}:add:A", Retention: time.Hour, Forget: true}
	for i := 0; i < 2; i++ {
		res, err := h.s.ReduceUsage(ctx, storetypes.ReduceUsageArgs{Key: "k", Amount: 1, Idempotency: undo})
		require.NoError(t, err)
		assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheApplied, Usage: 0, Replayed: i > 0}, res)
	}
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheApplied, Usage: 0, Replayed: true}, reduce(1),
		"nothing left to take back")

	// A refused add leaves nothing to take back.
	require.NoError(t, h.SetRaw(ctx, "k", "1"))
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheLimitExceeded, Usage: 1, Limit: 1}, add(1))
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheApplied, Usage: 1, Replayed: true}, reduce(1))
	assertRaw(t, h, "k", "1")

	// Without an add's record, a reduce with a key is a reduce of its own, applied once.
	refund := storetypes.Idempotency{RecordKey: "{k}:reduce:R", AddRecordKey: "{k}:add:R", Retention: time.Hour}
	for i := 0; i < 2; i++ {
		res, err := h.s.ReduceUsage(ctx, storetypes.ReduceUsageArgs{Key: "k", Amount: 1, Idempotency: refund})
		require.NoError(t, err)
		assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheApplied, Usage: 0, Replayed: i > 0}, res)
	}
	assertAbsent(t, h, "{k}:add:R")

}
