// Package cachetest is a conformance suite for andromeda.Cache implementations: the
// transport contract (scripts by SHA1 with EVAL as fallback, reply types, error replies,
// Get, Lock), the library's own scripts run through the Cache (exact adds and reduces,
// limits, idempotency records, holds, the fenced loader write), and the public API over
// it (AddQuotaUsage, ReduceQuotaUsage, NewQuotaHolds, ReadCachedUsages). An adapter runs
// it from its own tests, against every kind of server it supports:
//
//	func TestConformance(t *testing.T) {
//		cachetest.Run(t, func(t *testing.T) cachetest.Harness { ... })
//	}
package cachetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/internal/storehook"
	"github.com/ramadani/andromeda/internal/storetypes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Harness is a cache under test with raw access to the store behind it.
type Harness struct {
	Cache andromeda.Cache // the transport under test
	// SetRaw stores value at key as it is, without expiration.
	SetRaw func(ctx context.Context, key, value string) error
	// GetRaw returns the value at key, and whether the key exists.
	GetRaw func(ctx context.Context, key string) (string, bool, error)
	// TTL returns the key's remaining time to live, or a negative duration when it has none.
	TTL func(ctx context.Context, key string) (time.Duration, error)
	// Advance lets d pass for the store's expirations (time.Sleep for a real server).
	Advance func(d time.Duration)

	s storage // the library's store over Cache
}

// storage is the library's store: each usage change is one of its scripts, run through
// the Cache under test.
type storage interface {
	AddUsage(ctx context.Context, args storetypes.AddUsageArgs) (storetypes.CacheResult, error)
	AddUsageBatch(ctx context.Context, batch []storetypes.AddUsageArgs) ([]storetypes.CacheResult, error)
	ReduceUsage(ctx context.Context, args storetypes.ReduceUsageArgs) (storetypes.CacheResult, error)
	AddUsages(ctx context.Context, args []storetypes.AddUsageArgs) (storetypes.MultiResult, error)
	ReduceUsages(ctx context.Context, keys []string, amount int64) (storetypes.MultiResult, error)
	SetUsageIfAbsent(ctx context.Context, key string, value int64, expiration time.Duration) (bool, error)
	SetValue(ctx context.Context, key string, value int64, expiration time.Duration) error
	GetUsage(ctx context.Context, key string) (usage int64, found bool, err error)
	GetUsages(ctx context.Context, keys []string) (usages []int64, found []bool, err error)
	ChangeHold(ctx context.Context, args storetypes.HoldArgs) (storetypes.CacheResult, error)
	DeleteUsage(ctx context.Context, key string, drop []string) (usage int64, found bool, err error)
	Lock(ctx context.Context, key string, ttl time.Duration) (heldLock, error)
}

// heldLock is a loader lock taken through storage.
type heldLock = interface {
	SetUsageIfAbsent(ctx context.Context, args storetypes.LoadArgs) (bool, error)
	Release(ctx context.Context) error
}

// Run runs the suite; newHarness is called once per subtest and must return a cache over
// an empty store.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, h Harness)
	}{
		{"AddWithinLimit", testAddWithinLimit},
		{"AddBeyondLimitChangesNothing", testAddBeyondLimit},
		{"AddToMissingKeyReportsIt", testAddMissing},
		{"AddCreatesMissingKey", testAddCreateMissing},
		{"ReduceToZero", testReduce},
		{"ReduceBelowZeroChangesNothing", testReduceBelowZero},
		{"ReduceMissingKeyReportsIt", testReduceMissing},
		{"NonIntegerValueIsAnErrorAndKept", testNonInteger},
		{"ValueBeyond2To53IsAnErrorAndKept", testBeyondExact},
		{"ForeignValuesAreErrorsAndKept", testForeignValues},
		{"ExactAt2To53", testExactAt2To53},
		{"ReduceTakesBackTheAddWithItsKey", testReduceTakesBackAdd},
		{"SetUsageIfAbsent", testSetUsageIfAbsent},
		{"GetUsage", testGetUsage},
		{"Lock", testLock},
		{"FencedLoad", testFencedLoad},
		{"CancelledContext", testCancelledContext},
		{"ConcurrentAddsAdmitExactlyTheLimit", testConcurrentAdds},
		{"BatchDecidesInOrderAsOneByOne", testBatchInOrder},
		{"BatchOnMissingKey", testBatchMissing},
		{"BatchOnNonInteger", testBatchNonInteger},
		{"AddReadsTheLimitFromItsKey", testLimitKey},
		{"AddUsagesAllOrNothing", testAddUsages},
		{"AddUsagesOnMissingKeys", testAddUsagesMissing},
		{"ReduceUsagesAllOrNothing", testReduceUsages},
		{"SetValue", testSetValue},
		{"GetUsages", testGetUsages},
		{"IdempotentAdd", testIdempotentAdd},
		{"IdempotentReduce", testIdempotentReduce},
		{"Holds", testHolds},
		{"HoldsExpire", testHoldsExpire},
		{"EveryScriptReleasesExpiredHolds", testEveryScriptReleasesHolds},
		{"DeleteUsageWithItsHolds", testDeleteUsage},
		{"ReduceOfZeroReleasesExpiredHolds", testReduceZeroReleasesHolds},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.s = storehook.New(h.Cache).(storage)
			tc.test(t, h)
		})
	}
	for _, tc := range transportChecks {
		t.Run("Transport/"+tc.name, func(t *testing.T) { tc.test(t, newHarness(t)) })
	}
	for _, tc := range endToEndChecks {
		t.Run("API/"+tc.name, func(t *testing.T) { tc.test(t, newHarness(t)) })
	}
}

func testAddWithinLimit(t *testing.T, h Harness) {
	ctx := context.Background()
	require.NoError(t, h.SetRaw(ctx, "k", "7"))
	res, err := h.s.AddUsage(ctx, storetypes.AddUsageArgs{Key: "k", Amount: 3, Limit: 10})
	require.NoError(t, err)
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheApplied, Usage: 10, Limit: 10}, res)
	assertRaw(t, h, "k", "10")
}

func testAddBeyondLimit(t *testing.T, h Harness) {
	ctx := context.Background()
	require.NoError(t, h.SetRaw(ctx, "k", "8"))
	res, err := h.s.AddUsage(ctx, storetypes.AddUsageArgs{Key: "k", Amount: 3, Limit: 10})
	require.NoError(t, err)
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheLimitExceeded, Usage: 8, Limit: 10}, res)
	assertRaw(t, h, "k", "8")
}

func testAddMissing(t *testing.T, h Harness) {
	ctx := context.Background()
	res, err := h.s.AddUsage(ctx, storetypes.AddUsageArgs{Key: "k", Amount: 1, Limit: 10, Expiration: time.Hour})
	require.NoError(t, err)
	assert.Equal(t, storetypes.CacheMissing, res.Status)
	assertAbsent(t, h, "k")
}

func testAddCreateMissing(t *testing.T, h Harness) {
	ctx := context.Background()
	res, err := h.s.AddUsage(ctx, storetypes.AddUsageArgs{Key: "k", Amount: 4, Limit: 10, CreateMissing: true, Expiration: time.Hour})
	require.NoError(t, err)
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheApplied, Usage: 4, Limit: 10}, res)
	assertRaw(t, h, "k", "4")
	assertTTL(t, h, "k", time.Hour)

	// Later adds keep the expiration.
	_, err = h.s.AddUsage(ctx, storetypes.AddUsageArgs{Key: "k", Amount: 1, Limit: 10})
	require.NoError(t, err)
	assertTTL(t, h, "k", time.Hour)

	res, err = h.s.AddUsage(ctx, storetypes.AddUsageArgs{Key: "none", Amount: 1, Limit: 10, CreateMissing: true})
	require.NoError(t, err)
	assert.Equal(t, storetypes.CacheApplied, res.Status)
	ttl, err := h.TTL(ctx, "none")
	require.NoError(t, err)
	assert.Negative(t, ttl, "expiration 0 must store the key without one")

	res, err = h.s.AddUsage(ctx, storetypes.AddUsageArgs{Key: "big", Amount: 11, Limit: 10, CreateMissing: true})
	require.NoError(t, err)
	assert.Equal(t, storetypes.CacheLimitExceeded, res.Status)
	assertAbsent(t, h, "big")
}

func testReduce(t *testing.T, h Harness) {
	ctx := context.Background()
	require.NoError(t, h.SetRaw(ctx, "k", "5"))
	res, err := h.s.ReduceUsage(ctx, storetypes.ReduceUsageArgs{Key: "k", Amount: 5})
	require.NoError(t, err)
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheApplied, Usage: 0}, res)
	assertRaw(t, h, "k", "0")
}

func testReduceBelowZero(t *testing.T, h Harness) {
	ctx := context.Background()
	require.NoError(t, h.SetRaw(ctx, "k", "2"))
	res, err := h.s.ReduceUsage(ctx, storetypes.ReduceUsageArgs{Key: "k", Amount: 3})
	require.NoError(t, err)
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheBelowZero, Usage: 2}, res)
	assertRaw(t, h, "k", "2")
}

func testReduceMissing(t *testing.T, h Harness) {
	res, err := h.s.ReduceUsage(context.Background(), storetypes.ReduceUsageArgs{Key: "k", Amount: 1})
	require.NoError(t, err)
	assert.Equal(t, storetypes.CacheMissing, res.Status)
	assertAbsent(t, h, "k")
}

func testNonInteger(t *testing.T, h Harness) {
	ctx := context.Background()
	for _, raw := range []string{"abc", "1.5", "1e3", "0x10", ""} {
		require.NoError(t, h.SetRaw(ctx, "k", raw))
		_, err := h.s.AddUsage(ctx, storetypes.AddUsageArgs{Key: "k", Amount: 1, Limit: 10000})
		assert.ErrorIs(t, err, andromeda.ErrInvalidCachedUsage, "add on %q", raw)
		_, err = h.s.ReduceUsage(ctx, storetypes.ReduceUsageArgs{Key: "k", Amount: 1})
		assert.ErrorIs(t, err, andromeda.ErrInvalidCachedUsage, "reduce on %q", raw)
		_, _, err = h.s.GetUsage(ctx, "k")
		assert.ErrorIs(t, err, andromeda.ErrInvalidCachedUsage, "get on %q", raw)
		assertRaw(t, h, "k", raw)
	}
}

func testBeyondExact(t *testing.T, h Harness) {
	ctx := context.Background()
	for _, raw := range []string{"9007199254740993", "-100000000000000010", "123456789012345678901234567890"} {
		require.NoError(t, h.SetRaw(ctx, "k", raw))
		_, err := h.s.AddUsage(ctx, storetypes.AddUsageArgs{Key: "k", Amount: 1, Limit: andromeda.MaxAmount})
		assert.ErrorIs(t, err, andromeda.ErrInvalidCachedUsage, "add on %q", raw)
		_, err = h.s.ReduceUsage(ctx, storetypes.ReduceUsageArgs{Key: "k", Amount: 1})
		assert.ErrorIs(t, err, andromeda.ErrInvalidCachedUsage, "reduce on %q", raw)
		assertRaw(t, h, "k", raw)
	}
	require.NoError(t, h.SetRaw(ctx, "k", "9007199254740992"))
	res, err := h.s.ReduceUsage(ctx, storetypes.ReduceUsageArgs{Key: "k", Amount: 1})
	require.NoError(t, err)
	assert.Equal(t, int64(9007199254740991), res.Usage, "2^53 itself is exact")
}

func testSetUsageIfAbsent(t *testing.T, h Harness) {
	ctx := context.Background()
	ok, err := h.s.SetUsageIfAbsent(ctx, "k", 42, time.Hour)
	require.NoError(t, err)
	assert.True(t, ok)
	assertRaw(t, h, "k", "42")
	assertTTL(t, h, "k", time.Hour)

	ok, err = h.s.SetUsageIfAbsent(ctx, "k", 7, time.Minute)
	require.NoError(t, err)
	assert.False(t, ok)
	assertRaw(t, h, "k", "42")

	ok, err = h.s.SetUsageIfAbsent(ctx, "forever", 1, 0)
	require.NoError(t, err)
	assert.True(t, ok)
	ttl, err := h.TTL(ctx, "forever")
	require.NoError(t, err)
	assert.Negative(t, ttl)
}

func testGetUsage(t *testing.T, h Harness) {
	ctx := context.Background()
	_, found, err := h.s.GetUsage(ctx, "k")
	require.NoError(t, err)
	assert.False(t, found)
	require.NoError(t, h.SetRaw(ctx, "k", "9007199254740992"))
	usage, found, err := h.s.GetUsage(ctx, "k")
	require.NoError(t, err)
	assert.True(t, found)
	assert.Equal(t, int64(9007199254740992), usage)
	for _, raw := range foreignValues {
		require.NoError(t, h.SetRaw(ctx, "k", raw))
		_, _, err = h.s.GetUsage(ctx, "k")
		assert.ErrorIs(t, err, andromeda.ErrInvalidCachedUsage, "get on %q", raw)
	}
}

func testLock(t *testing.T, h Harness) {
	ctx := context.Background()
	lock, err := h.s.Lock(ctx, "lock", time.Minute)
	require.NoError(t, err)
	_, err = h.s.Lock(ctx, "lock", time.Minute)
	assert.ErrorIs(t, err, andromeda.ErrLockedKey)
	require.NoError(t, lock.Release(ctx))
	lock, err = h.s.Lock(ctx, "lock", 100*time.Millisecond)
	require.NoError(t, err, "a released lock can be taken again")

	// A holder that never releases: the lock expires by itself.
	h.Advance(250 * time.Millisecond)
	lock2, err := h.s.Lock(ctx, "lock", time.Minute)
	require.NoError(t, err, "an expired lock can be taken again")
	require.NoError(t, lock.Release(ctx), "releasing an expired lock is not an error")
	_, err = h.s.Lock(ctx, "lock", time.Minute)
	assert.ErrorIs(t, err, andromeda.ErrLockedKey, "the late release left the new holder's lock alone")
	require.NoError(t, lock2.Release(ctx))
}

// The loader's write lands only while its lock is held, and then clears the keys
// derived from the old value.
func testFencedLoad(t *testing.T, h Harness) {
	ctx := context.Background()
	lock, err := h.s.Lock(ctx, "{k}:lock", time.Minute)
	require.NoError(t, err)
	require.NoError(t, h.SetRaw(ctx, "{k}:derived", "x"))
	ok, err := lock.SetUsageIfAbsent(ctx, storetypes.LoadArgs{Key: "{k}", Value: 42, Expiration: time.Hour, Drop: []string{"{k}:derived", "{k}:other"}})
	require.NoError(t, err)
	assert.True(t, ok)
	assertRaw(t, h, "{k}", "42")
	assertTTL(t, h, "{k}", time.Hour)
	assertAbsent(t, h, "{k}:derived")

	require.NoError(t, h.SetRaw(ctx, "{k}:derived", "y"))
	ok, err = lock.SetUsageIfAbsent(ctx, storetypes.LoadArgs{Key: "{k}", Value: 7, Drop: []string{"{k}:derived"}})
	require.NoError(t, err)
	assert.False(t, ok, "a present key is kept")
	assertRaw(t, h, "{k}", "42")
	assertRaw(t, h, "{k}:derived", "y")

	ok, err = lock.SetUsageIfAbsent(ctx, storetypes.LoadArgs{Key: "{k}:forever", Value: 1})
	require.NoError(t, err)
	assert.True(t, ok)
	ttl, err := h.TTL(ctx, "{k}:forever")
	require.NoError(t, err)
	assert.Negative(t, ttl)

	// The lock is lost (released here; expiring, as Lock tests, is the same: the token is
	// gone) and another holder takes it: the first holder's late write is refused.
	require.NoError(t, lock.Release(ctx))
	other, err := h.s.Lock(ctx, "{k}:lock", time.Minute)
	require.NoError(t, err)
	ok, err = lock.SetUsageIfAbsent(ctx, storetypes.LoadArgs{Key: "{k}:late", Value: 5, Drop: []string{"{k}:derived"}})
	assert.ErrorIs(t, err, andromeda.ErrLockedKey)
	assert.False(t, ok)
	assertAbsent(t, h, "{k}:late")
	assertRaw(t, h, "{k}:derived", "y")
	require.NoError(t, other.Release(ctx))

	// And with nobody holding it, the same.
	_, err = lock.SetUsageIfAbsent(ctx, storetypes.LoadArgs{Key: "{k}:late", Value: 5})
	assert.ErrorIs(t, err, andromeda.ErrLockedKey)
	assertAbsent(t, h, "{k}:late")
}

func testCancelledContext(t *testing.T, h Harness) {
	ctx := context.Background()
	require.NoError(t, h.SetRaw(ctx, "k", "1"))
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err := h.s.AddUsage(cancelled, storetypes.AddUsageArgs{Key: "k", Amount: 1, Limit: 10})
	assert.ErrorIs(t, err, context.Canceled)
	_, err = h.s.ReduceUsage(cancelled, storetypes.ReduceUsageArgs{Key: "k", Amount: 1})
	assert.ErrorIs(t, err, context.Canceled)
	_, err = h.s.SetUsageIfAbsent(cancelled, "other", 1, 0)
	assert.ErrorIs(t, err, context.Canceled)
	_, _, err = h.s.GetUsage(cancelled, "k")
	assert.ErrorIs(t, err, context.Canceled)
	_, err = h.s.Lock(cancelled, "lock", time.Minute)
	assert.ErrorIs(t, err, context.Canceled)
	assertRaw(t, h, "k", "1")
	assertAbsent(t, h, "other")
}

func testConcurrentAdds(t *testing.T, h Harness) {
	ctx := context.Background()
	require.NoError(t, h.SetRaw(ctx, "k", "0"))
	const callers, limit = 64, 20
	var admitted, refused atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for i := 0; i < callers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := h.s.AddUsage(ctx, storetypes.AddUsageArgs{Key: "k", Amount: 1, Limit: limit})
			switch {
			case err != nil:
				errs <- err
			case res.Status == storetypes.CacheApplied:
				admitted.Add(1)
			case res.Status == storetypes.CacheLimitExceeded:
				refused.Add(1)
			default:
				errs <- errors.New(res.Status.String())
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assert.Equal(t, int64(limit), admitted.Load())
	assert.Equal(t, int64(callers-limit), refused.Load())
	assertRaw(t, h, "k", fmt.Sprint(limit))
}

func testBatchInOrder(t *testing.T, h Harness) {
	ctx := context.Background()
	b := h.s
	require.NoError(t, h.SetRaw(ctx, "k", "5"))
	amounts := []int64{3, 4, 1, 2, 1, 6}
	batch := make([]storetypes.AddUsageArgs, len(amounts))
	for i, n := range amounts {
		batch[i] = storetypes.AddUsageArgs{Key: "k", Amount: n, Limit: 10}
	}
	batch[4].Limit = 8 // each add has its own limit
	got, err := b.AddUsageBatch(ctx, batch)
	require.NoError(t, err)

	// The same adds one by one, on another key.
	require.NoError(t, h.SetRaw(ctx, "one-by-one", "5"))
	var want []storetypes.CacheResult
	for _, a := range batch {
		a.Key = "one-by-one"
		res, err := h.s.AddUsage(ctx, a)
		require.NoError(t, err)
		want = append(want, res)
	}
	assert.Equal(t, want, got)
	// 5+3=8; 8+4>10; 8+1=9; 9+2>10; 9+1>8, its own limit; 9+6>10.
	assert.Equal(t, []storetypes.CacheStatus{0, 2, 0, 2, 2, 2}, statuses(got))
	assertRaw(t, h, "k", "9")
}

func statuses(results []storetypes.CacheResult) []storetypes.CacheStatus {
	out := make([]storetypes.CacheStatus, len(results))
	for i, r := range results {
		out[i] = r.Status
	}
	return out
}

func testBatchMissing(t *testing.T, h Harness) {
	ctx := context.Background()
	b := h.s
	got, err := b.AddUsageBatch(ctx, []storetypes.AddUsageArgs{{Key: "k", Amount: 1, Limit: 5}, {Key: "k", Amount: 2, Limit: 5}})
	require.NoError(t, err)
	assert.Equal(t, []storetypes.CacheStatus{storetypes.CacheMissing, storetypes.CacheMissing}, statuses(got))
	assertAbsent(t, h, "k")

	create := []storetypes.AddUsageArgs{
		{Key: "k", Amount: 4, Limit: 5, CreateMissing: true, Expiration: time.Hour},
		{Key: "k", Amount: 2, Limit: 5, CreateMissing: true, Expiration: time.Hour},
		{Key: "k", Amount: 1, Limit: 5, CreateMissing: true, Expiration: time.Hour},
	}
	got, err = b.AddUsageBatch(ctx, create)
	require.NoError(t, err)
	assert.Equal(t, []storetypes.CacheResult{{Status: storetypes.CacheApplied, Usage: 4, Limit: 5},
		{Status: storetypes.CacheLimitExceeded, Usage: 4, Limit: 5}, {Status: storetypes.CacheApplied, Usage: 5, Limit: 5}}, got)
	assertRaw(t, h, "k", "5")
	assertTTL(t, h, "k", time.Hour)

	got, err = b.AddUsageBatch(ctx, []storetypes.AddUsageArgs{{Key: "none", Amount: 9, Limit: 5, CreateMissing: true}})
	require.NoError(t, err)
	assert.Equal(t, storetypes.CacheLimitExceeded, got[0].Status)
	assertAbsent(t, h, "none")
}

func testBatchNonInteger(t *testing.T, h Harness) {
	ctx := context.Background()
	b := h.s
	require.NoError(t, h.SetRaw(ctx, "k", "x"))
	_, err := b.AddUsageBatch(ctx, []storetypes.AddUsageArgs{{Key: "k", Amount: 1, Limit: 5}, {Key: "k", Amount: 1, Limit: 5}})
	assert.ErrorIs(t, err, andromeda.ErrInvalidCachedUsage)
	assertRaw(t, h, "k", "x")
}

func testLimitKey(t *testing.T, h Harness) {
	ctx := context.Background()
	limitKey := andromeda.LimitKey("k")
	require.NoError(t, h.SetRaw(ctx, "k", "3"))
	args := storetypes.AddUsageArgs{Key: "k", Amount: 2, Limit: 1000, LimitKey: limitKey}
	res, err := h.s.AddUsage(ctx, args)
	require.NoError(t, err)
	assert.Equal(t, storetypes.CacheLimitMissing, res.Status)
	assertRaw(t, h, "k", "3")

	require.NoError(t, h.SetRaw(ctx, limitKey, "4"))
	res, err = h.s.AddUsage(ctx, args)
	require.NoError(t, err)
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheLimitExceeded, Usage: 3, Limit: 4}, res, "the limit key wins over Limit")
	args.Amount = 1
	res, err = h.s.AddUsage(ctx, args)
	require.NoError(t, err)
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheApplied, Usage: 4, Limit: 4}, res)

	batch, err := h.s.AddUsageBatch(ctx, []storetypes.AddUsageArgs{args, args})
	require.NoError(t, err)
	assert.Equal(t, []storetypes.CacheStatus{storetypes.CacheLimitExceeded, storetypes.CacheLimitExceeded}, statuses(batch))

	require.NoError(t, h.SetRaw(ctx, limitKey, "lots"))
	_, err = h.s.AddUsage(ctx, args)
	assert.ErrorIs(t, err, andromeda.ErrInvalidCachedUsage)
	assertRaw(t, h, "k", "4")
}

func testAddUsages(t *testing.T, h Harness) {
	ctx := context.Background()
	require.NoError(t, h.SetRaw(ctx, "{m}:campaign", "10"))
	require.NoError(t, h.SetRaw(ctx, "{m}:user", "1"))
	quotas := []storetypes.AddUsageArgs{{Key: "{m}:campaign", Amount: 1, Limit: 100}, {Key: "{m}:user", Amount: 1, Limit: 2}}
	res, err := h.s.AddUsages(ctx, quotas)
	require.NoError(t, err)
	assert.Equal(t, storetypes.MultiResult{Status: storetypes.CacheApplied, Index: -1, Usages: []int64{11, 2}}, res)

	res, err = h.s.AddUsages(ctx, quotas)
	require.NoError(t, err)
	assert.Equal(t, storetypes.MultiResult{Status: storetypes.CacheLimitExceeded, Index: 1, Usages: []int64{11, 2}}, res)
	assertRaw(t, h, "{m}:campaign", "11") // all or nothing
	assertRaw(t, h, "{m}:user", "2")

	require.NoError(t, h.SetRaw(ctx, "{m}:user", "x"))
	_, err = h.s.AddUsages(ctx, quotas)
	assert.ErrorIs(t, err, andromeda.ErrInvalidCachedUsage)
	assertRaw(t, h, "{m}:campaign", "11")
}

func testAddUsagesMissing(t *testing.T, h Harness) {
	ctx := context.Background()
	require.NoError(t, h.SetRaw(ctx, "{m}:campaign", "10"))
	quotas := []storetypes.AddUsageArgs{{Key: "{m}:campaign", Amount: 2, Limit: 100}, {Key: "{m}:user", Amount: 2, Limit: 2}}
	res, err := h.s.AddUsages(ctx, quotas)
	require.NoError(t, err)
	assert.Equal(t, storetypes.CacheMissing, res.Status)
	assert.Equal(t, 1, res.Index)
	assertRaw(t, h, "{m}:campaign", "10")
	assertAbsent(t, h, "{m}:user")

	quotas[1].CreateMissing, quotas[1].Expiration = true, time.Hour
	res, err = h.s.AddUsages(ctx, quotas)
	require.NoError(t, err)
	assert.Equal(t, storetypes.MultiResult{Status: storetypes.CacheApplied, Index: -1, Usages: []int64{12, 2}}, res)
	assertTTL(t, h, "{m}:user", time.Hour)
}

func testReduceUsages(t *testing.T, h Harness) {
	ctx := context.Background()
	require.NoError(t, h.SetRaw(ctx, "{m}:campaign", "10"))
	require.NoError(t, h.SetRaw(ctx, "{m}:user", "1"))
	keys := []string{"{m}:campaign", "{m}:user"}
	res, err := h.s.ReduceUsages(ctx, keys, 1)
	require.NoError(t, err)
	assert.Equal(t, storetypes.MultiResult{Status: storetypes.CacheApplied, Index: -1, Usages: []int64{9, 0}}, res)
	res, err = h.s.ReduceUsages(ctx, keys, 1)
	require.NoError(t, err)
	assert.Equal(t, storetypes.MultiResult{Status: storetypes.CacheBelowZero, Index: 1, Usages: []int64{9, 0}}, res)
	assertRaw(t, h, "{m}:campaign", "9")
	res, err = h.s.ReduceUsages(ctx, []string{"{m}:campaign", "{m}:none"}, 1)
	require.NoError(t, err)
	assert.Equal(t, storetypes.CacheMissing, res.Status)
	assert.Equal(t, 1, res.Index)
	assertRaw(t, h, "{m}:campaign", "9")
}

func testSetValue(t *testing.T, h Harness) {
	ctx := context.Background()
	require.NoError(t, h.SetRaw(ctx, "k", "3"))
	require.NoError(t, h.s.SetValue(ctx, "k", 8, time.Hour))
	assertRaw(t, h, "k", "8")
	assertTTL(t, h, "k", time.Hour)
	require.NoError(t, h.s.SetValue(ctx, "k", 9, 0))
	assertRaw(t, h, "k", "9")
	ttl, err := h.TTL(ctx, "k")
	require.NoError(t, err)
	assert.Negative(t, ttl)
}

func testGetUsages(t *testing.T, h Harness) {
	ctx := context.Background()
	keys := []string{"a", "b", "c", "{x}d", "e"}
	require.NoError(t, h.SetRaw(ctx, "a", "1"))
	require.NoError(t, h.SetRaw(ctx, "c", "3"))
	require.NoError(t, h.SetRaw(ctx, "{x}d", "4"))
	usages, found, err := h.s.GetUsages(ctx, keys)
	require.NoError(t, err)
	assert.Equal(t, []int64{1, 0, 3, 4, 0}, usages)
	assert.Equal(t, []bool{true, false, true, true, false}, found)
	require.NoError(t, h.SetRaw(ctx, "e", "five"))
	_, _, err = h.s.GetUsages(ctx, keys)
	assert.ErrorIs(t, err, andromeda.ErrInvalidCachedUsage)
}

func testIdempotentAdd(t *testing.T, h Harness) {
	ctx := context.Background()
	require.NoError(t, h.SetRaw(ctx, "k", "5"))
	record := storetypes.Idempotency{RecordKey: "{k}:rec", Retention: time.Hour}
	args := storetypes.AddUsageArgs{Key: "k", Amount: 3, Limit: 10, Idempotency: record}
	first, err := h.s.AddUsage(ctx, args)
	require.NoError(t, err)
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheApplied, Usage: 8, Limit: 10}, first)
	again, err := h.s.AddUsage(ctx, args)
	require.NoError(t, err)
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheApplied, Usage: 8, Limit: 10, Replayed: true}, again)
	assertRaw(t, h, "k", "8")
	assertTTL(t, h, "{k}:rec", time.Hour)

	// A refusal is recorded too: the same request stays refused.
	refused := storetypes.AddUsageArgs{Key: "k", Amount: 5, Limit: 10, Idempotency: storetypes.Idempotency{RecordKey: "{k}:rec2", Retention: time.Hour}}
	res, err := h.s.AddUsage(ctx, refused)
	require.NoError(t, err)
	assert.Equal(t, storetypes.CacheLimitExceeded, res.Status)
	refused.Limit = 100
	res, err = h.s.AddUsage(ctx, refused)
	require.NoError(t, err)
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheLimitExceeded, Usage: 8, Limit: 10, Replayed: true}, res)
	assertRaw(t, h, "k", "8")

	// Taking the add back deletes its record, once.
	undo := storetypes.ReduceUsageArgs{Key: "k", Amount: 3, Idempotency: storetypes.Idempotency{RecordKey: "{k}:rec", Retention: time.Hour, Forget: true}}
	res, err = h.s.ReduceUsage(ctx, undo)
	require.NoError(t, err)
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheApplied, Usage: 5}, res)
	res, err = h.s.ReduceUsage(ctx, undo)
	require.NoError(t, err)
	assert.True(t, res.Replayed)
	assertRaw(t, h, "k", "5")
	res, err = h.s.AddUsage(ctx, args)
	require.NoError(t, err)
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheApplied, Usage: 8, Limit: 10}, res, "after the undo, a retry is a fresh attempt")
	res, err = h.s.AddUsage(ctx, args)
	require.NoError(t, err)
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheApplied, Usage: 8, Limit: 10, Replayed: true}, res, "the fresh attempt is recorded")
	assertRaw(t, h, "k", "8")
	assertTTL(t, h, "{k}:rec", time.Hour)

	// A record key holding something else is reported, and nothing changes.
	require.NoError(t, h.SetRaw(ctx, "{k}:junk", "not a record"))
	_, err = h.s.AddUsage(ctx, storetypes.AddUsageArgs{Key: "k", Amount: 1, Limit: 10,
		Idempotency: storetypes.Idempotency{RecordKey: "{k}:junk", Retention: time.Hour}})
	assert.ErrorIs(t, err, andromeda.ErrInvalidCachedUsage)
	assertRaw(t, h, "k", "8")
	assertRaw(t, h, "{k}:junk", "not a record")

	// Large numbers are recorded exactly.
	require.NoError(t, h.SetRaw(ctx, "big", "9007199254740000"))
	big := storetypes.AddUsageArgs{Key: "big", Amount: 991, Limit: andromeda.MaxAmount,
		Idempotency: storetypes.Idempotency{RecordKey: "{big}:rec", Retention: time.Hour}}
	for i := 0; i < 2; i++ {
		res, err = h.s.AddUsage(ctx, big)
		require.NoError(t, err)
		assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheApplied, Usage: 9007199254740991, Limit: andromeda.MaxAmount, Replayed: i > 0}, res)
	}

	// A missing usage is not recorded.
	missing := storetypes.AddUsageArgs{Key: "none", Amount: 1, Limit: 10, Idempotency: storetypes.Idempotency{RecordKey: "{none}:rec", Retention: time.Hour}}
	res, err = h.s.AddUsage(ctx, missing)
	require.NoError(t, err)
	assert.Equal(t, storetypes.CacheMissing, res.Status)
	assertAbsent(t, h, "{none}:rec")
}

func testIdempotentReduce(t *testing.T, h Harness) {
	ctx := context.Background()
	require.NoError(t, h.SetRaw(ctx, "k", "5"))
	args := storetypes.ReduceUsageArgs{Key: "k", Amount: 2, Idempotency: storetypes.Idempotency{RecordKey: "{k}:rec", Retention: time.Hour, Attempt: "a1"}}
	for i := 0; i < 3; i++ {
		res, err := h.s.ReduceUsage(ctx, args)
		require.NoError(t, err)
		assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheApplied, Usage: 3, Replayed: i > 0}, res)
	}
	assertRaw(t, h, "k", "3")

	// Putting the reduce back (within the usage before it, 5) marks its record undone, once.
	undo := storetypes.AddUsageArgs{Key: "k", Amount: 2, Limit: 5, Idempotency: storetypes.Idempotency{RecordKey: "{k}:rec", Retention: time.Hour, Forget: true, Attempt: "a1"}}
	for i := 0; i < 2; i++ {
		_, err := h.s.AddUsage(ctx, undo)
		require.NoError(t, err)
	}
	assertRaw(t, h, "k", "5")

	// A late copy of the undone attempt changes nothing; a new attempt with the key is fresh.
	res, err := h.s.ReduceUsage(ctx, args)
	require.NoError(t, err)
	assert.True(t, res.Replayed)
	assertRaw(t, h, "k", "5")
	args.Idempotency.Attempt = "a2"
	res, err = h.s.ReduceUsage(ctx, args)
	require.NoError(t, err)
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheApplied, Usage: 3}, res)
	assertRaw(t, h, "k", "3")
}

func hold(op storetypes.HoldOp, id string, amount int64) storetypes.HoldArgs {
	return storetypes.HoldArgs{Op: op, Key: "k", HoldID: id, Amount: amount, Limit: 10, HoldFor: time.Minute, Retention: time.Hour}
}

func testHolds(t *testing.T, h Harness) {
	ctx := context.Background()
	change := func(args storetypes.HoldArgs) storetypes.CacheResult {
		t.Helper()
		res, err := h.s.ChangeHold(ctx, args)
		require.NoError(t, err)
		return res
	}
	assert.Equal(t, storetypes.CacheMissing, change(hold(storetypes.HoldReserve, "a", 2)).Status)
	assertAbsent(t, h, "k")

	require.NoError(t, h.SetRaw(ctx, "k", "3"))
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheApplied, Usage: 5}, change(hold(storetypes.HoldReserve, "a", 2)))
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheApplied, Usage: 5, Replayed: true}, change(hold(storetypes.HoldReserve, "a", 2)))
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheLimitExceeded, Usage: 5}, change(hold(storetypes.HoldReserve, "x", 6)))
	// A refusal is recorded: its repeat replays it; a repeat of another amount is invalid
	// (one hold ID names one reserve) and changes nothing.
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheLimitExceeded, Usage: 5, Replayed: true}, change(hold(storetypes.HoldReserve, "x", 6)))
	_, err := h.s.ChangeHold(ctx, hold(storetypes.HoldReserve, "x", 4))
	assert.ErrorIs(t, err, andromeda.ErrInvalidRequest, "a reserve of another amount under a recorded hold ID")
	_, err = h.s.ChangeHold(ctx, hold(storetypes.HoldReserve, "a", 1))
	assert.ErrorIs(t, err, andromeda.ErrInvalidRequest, "a reserve of another amount under an active hold's ID")
	assertRaw(t, h, "k", "5")
	assert.Equal(t, storetypes.CacheHoldNotFound, change(hold(storetypes.HoldCommit, "x", 0)).Status)
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheApplied, Usage: 9}, change(hold(storetypes.HoldReserve, "b", 4)))
	assertRaw(t, h, "k", "9") // committed 3 + held 2 + 4

	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheApplied, Usage: 9}, change(hold(storetypes.HoldCommit, "a", 0)))
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheApplied, Usage: 9, Replayed: true}, change(hold(storetypes.HoldCommit, "a", 0)))
	assert.Equal(t, storetypes.CacheHoldCommitted, change(hold(storetypes.HoldCancel, "a", 0)).Status)
	assert.Equal(t, storetypes.CacheHoldCommitted, change(hold(storetypes.HoldReserve, "a", 2)).Status)

	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheApplied, Usage: 5}, change(hold(storetypes.HoldCancel, "b", 0)))
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheApplied, Usage: 5, Replayed: true}, change(hold(storetypes.HoldCancel, "b", 0)))
	assert.Equal(t, storetypes.CacheHoldCancelled, change(hold(storetypes.HoldCommit, "b", 0)).Status)
	assert.Equal(t, storetypes.CacheHoldNotFound, change(hold(storetypes.HoldCommit, "never", 0)).Status)
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheApplied, Usage: 5, Replayed: true}, change(hold(storetypes.HoldCancel, "never", 0)))
	assertRaw(t, h, "k", "5")
}

func testHoldsExpire(t *testing.T, h Harness) {
	ctx := context.Background()
	require.NoError(t, h.SetRaw(ctx, "k", "0"))
	short := hold(storetypes.HoldReserve, "a", 4)
	short.HoldFor = 100 * time.Millisecond
	_, err := h.s.ChangeHold(ctx, short)
	require.NoError(t, err)
	assertRaw(t, h, "k", "4")
	time.Sleep(250 * time.Millisecond) // the scripts read the server's clock

	res, err := h.s.ChangeHold(ctx, hold(storetypes.HoldCommit, "a", 0))
	require.NoError(t, err)
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheHoldExpired, Usage: 0}, res, "released, and too late to commit")
	assertRaw(t, h, "k", "0")
	res, err = h.s.ChangeHold(ctx, hold(storetypes.HoldCancel, "a", 0))
	require.NoError(t, err)
	assert.True(t, res.Replayed, "cancelling an expired hold changes nothing")

	// A plain reduce that gave back held quota: the hold's release stops at zero.
	short.HoldID = "b"
	_, err = h.s.ChangeHold(ctx, short)
	require.NoError(t, err)
	assertRaw(t, h, "k", "4")
	_, err = h.s.ReduceUsage(ctx, storetypes.ReduceUsageArgs{Key: "k", Amount: 3})
	require.NoError(t, err)
	time.Sleep(250 * time.Millisecond)
	res, err = h.s.ChangeHold(ctx, hold(storetypes.HoldCommit, "b", 0))
	require.NoError(t, err)
	assert.Equal(t, storetypes.CacheResult{Status: storetypes.CacheHoldExpired, Usage: 0}, res)
	assertRaw(t, h, "k", "0")
}

func assertRaw(t *testing.T, h Harness, key, want string) {
	t.Helper()
	got, found, err := h.GetRaw(context.Background(), key)
	require.NoError(t, err)
	require.True(t, found, "key %q is missing", key)
	assert.Equal(t, want, got, "value at %q", key)
}

func assertAbsent(t *testing.T, h Harness, key string) {
	t.Helper()
	_, found, err := h.GetRaw(context.Background(), key)
	require.NoError(t, err)
	assert.False(t, found, "key %q must not exist", key)
}

func assertTTL(t *testing.T, h Harness, key string, max time.Duration) {
	t.Helper()
	ttl, err := h.TTL(context.Background(), key)
	require.NoError(t, err)
	assert.True(t, ttl > max-time.Minute && ttl <= max, "TTL of %q is %v, want close to %v", key, ttl, max)
}
