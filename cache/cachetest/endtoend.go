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
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The library's behaviour through its public API over the Cache under test.
var endToEndChecks = []struct {
	name string
	test func(t *testing.T, h Harness)
}{
	{"AddAndReduceWithinTheLimit", testAPIAddReduce},
	{"ConcurrentAddsSellExactlyTheLimit", testAPIConcurrentAdds},
	{"RetriedAddCountsOnce", testAPIRetriedAdd},
	{"MissingUsageIsLoadedOnce", testAPILoad},
	{"ForeignValueIsRefused", testAPIForeignValue},
	{"Holds", testAPIHolds},
	{"ReadCachedUsages", testAPIReadCachedUsages},
}

// quota is one quota of the end-to-end checks: its usage key, limit, and the usage its
// database holds (loaded when Redis has none).
type quota struct {
	key   string
	limit int64
	db    atomic.Int64
	loads atomic.Int64
}

func (q *quota) limitOf() andromeda.GetQuota {
	return andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) { return q.limit, nil })
}

func (q *quota) keyOf() andromeda.GetQuotaKey {
	return andromeda.GetQuotaKeyFunc(func(context.Context, *andromeda.QuotaRequest) (string, error) { return q.key, nil })
}

func (q *quota) usageOf() andromeda.GetQuota {
	return andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) {
		q.loads.Add(1)
		return q.db.Load(), nil
	})
}

func (q *quota) add(h Harness) andromeda.UpdateQuotaUsage {
	return andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: h.Cache, GetQuotaLimit: q.limitOf(),
		GetQuotaUsageKey: q.keyOf(), GetQuotaUsage: q.usageOf(), GetQuotaUsageConfig: fastLoads})
}

func (q *quota) reduce(h Harness) andromeda.UpdateQuotaUsage {
	return andromeda.ReduceQuotaUsage(andromeda.ReduceQuotaUsageConfig{Cache: h.Cache,
		GetQuotaUsageKey: q.keyOf(), GetQuotaUsage: q.usageOf(), GetQuotaUsageConfig: fastLoads})
}

// fastLoads keeps a loader's waits short for the checks.
var fastLoads = andromeda.GetQuotaUsageConfig{LockIn: time.Second, MaxRetry: 100, RetryIn: 5 * time.Millisecond}

func use(usage int64) *andromeda.QuotaUsageRequest {
	return &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: usage}
}

func testAPIAddReduce(t *testing.T, h Harness) {
	ctx := context.Background()
	q := &quota{key: "{q}:usage", limit: 10}
	require.NoError(t, h.SetRaw(ctx, q.key, "5"))
	add, reduce := q.add(h), q.reduce(h)

	usage, err := add.Do(ctx, use(3))
	require.NoError(t, err)
	assert.Equal(t, int64(8), usage)
	_, err = add.Do(ctx, use(3))
	require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded)
	var qerr *andromeda.QuotaError
	require.True(t, errors.As(err, &qerr))
	assert.Equal(t, int64(8), qerr.Usage, "the usage found")
	assert.Equal(t, int64(10), qerr.Limit)
	usage, err = add.Do(ctx, use(2))
	require.NoError(t, err, "exactly up to the limit")
	assert.Equal(t, int64(10), usage)

	usage, err = reduce.Do(ctx, use(10))
	require.NoError(t, err)
	assert.Equal(t, int64(0), usage)
	_, err = reduce.Do(ctx, use(1))
	require.ErrorIs(t, err, andromeda.ErrInvalidMinQuotaUsage)
	assertRaw(t, h, q.key, "0")
}

func testAPIConcurrentAdds(t *testing.T, h Harness) {
	ctx := context.Background()
	q := &quota{key: "{q}:usage", limit: 100}
	require.NoError(t, h.SetRaw(ctx, q.key, "0"))
	add := q.add(h)
	var sold, refused atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				_, err := add.Do(ctx, use(1))
				switch {
				case err == nil:
					sold.Add(1)
				case errors.Is(err, andromeda.ErrQuotaLimitExceeded):
					refused.Add(1)
				default:
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(100), sold.Load())
	assert.Equal(t, int64(60), refused.Load())
	assertRaw(t, h, q.key, "100")
}

func testAPIRetriedAdd(t *testing.T, h Harness) {
	ctx := context.Background()
	q := &quota{key: "{q}:usage", limit: 10}
	require.NoError(t, h.SetRaw(ctx, q.key, "0"))
	add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: h.Cache, GetQuotaLimit: q.limitOf(),
		GetQuotaUsageKey: q.keyOf(), Option: andromeda.AddUsageOption{IdempotencyRetention: time.Hour}})
	req := &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: 4, IdempotencyKey: "order-1"}
	for range 3 {
		usage, err := add.Do(ctx, req)
		require.NoError(t, err)
		assert.Equal(t, int64(4), usage, "the first outcome, replayed")
	}
	assertRaw(t, h, q.key, "4")
}

func testAPILoad(t *testing.T, h Harness) {
	ctx := context.Background()
	q := &quota{key: "{q}:usage", limit: 100}
	q.db.Store(40)
	add := q.add(h)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := add.Do(ctx, use(1))
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	assertRaw(t, h, q.key, "48")
	assert.Equal(t, int64(1), q.loads.Load(), "one load for concurrent adds")
	assertAbsent(t, h, q.key+":andromeda-load-lock")
}

func testAPIForeignValue(t *testing.T, h Harness) {
	ctx := context.Background()
	q := &quota{key: "{q}:usage", limit: 100}
	for _, raw := range foreignValues {
		require.NoError(t, h.SetRaw(ctx, q.key, raw))
		_, err := q.add(h).Do(ctx, use(1))
		assert.ErrorIs(t, err, andromeda.ErrInvalidCachedUsage, "add on %q", raw)
		_, err = q.reduce(h).Do(ctx, use(1))
		assert.ErrorIs(t, err, andromeda.ErrInvalidCachedUsage, "reduce on %q", raw)
		assertRaw(t, h, q.key, raw)
	}
}

func testAPIHolds(t *testing.T, h Harness) {
	ctx := context.Background()
	q := &quota{key: "{q}:usage", limit: 5}
	require.NoError(t, h.SetRaw(ctx, q.key, "0"))
	holds := andromeda.NewQuotaHolds(andromeda.QuotaHoldsConfig{Cache: h.Cache,
		Quota: andromeda.Quota{GetQuotaLimit: q.limitOf(), GetQuotaUsageKey: q.keyOf()}, HoldFor: time.Minute, Retention: time.Hour})
	hold := func(id string, usage int64) *andromeda.QuotaUsageRequest {
		return &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: usage, IdempotencyKey: id}
	}
	usage, err := holds.Reserve.Do(ctx, hold("a", 3))
	require.NoError(t, err)
	assert.Equal(t, int64(3), usage)
	_, err = holds.Reserve.Do(ctx, hold("x", 3))
	require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded, "held quota is used")
	_, err = holds.Reserve.Do(ctx, hold("x", 3))
	require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded, "a repeat of a refused reserve replays the refusal")
	_, err = holds.Reserve.Do(ctx, hold("x", 2))
	require.ErrorIs(t, err, andromeda.ErrInvalidRequest, "a repeat of another amount")
	_, err = holds.Reserve.Do(ctx, hold("b", 2))
	require.NoError(t, err)

	usage, err = holds.Cancel.Do(ctx, hold("a", 0))
	require.NoError(t, err)
	assert.Equal(t, int64(2), usage, "a cancelled hold gives its quota back")
	usage, err = holds.Commit.Do(ctx, hold("b", 0))
	require.NoError(t, err)
	assert.Equal(t, int64(2), usage, "a committed hold stays counted")
	_, err = holds.Commit.Do(ctx, hold("a", 0))
	assert.ErrorIs(t, err, andromeda.ErrHoldCancelled)
	assertRaw(t, h, q.key, "2")
}

func testAPIReadCachedUsages(t *testing.T, h Harness) {
	ctx := context.Background()
	require.NoError(t, h.SetRaw(ctx, "usage:a", "7"))
	require.NoError(t, h.SetRaw(ctx, "usage:c", "9"))
	byID := andromeda.GetQuotaKeyFunc(func(_ context.Context, r *andromeda.QuotaRequest) (string, error) {
		return fmt.Sprintf("usage:%s", r.QuotaID), nil
	})
	got, err := andromeda.ReadCachedUsages(ctx, h.Cache, byID, []*andromeda.QuotaRequest{{QuotaID: "a"}, {QuotaID: "b"}, {QuotaID: "c"}})
	require.NoError(t, err)
	require.Len(t, got, 3)
	assert.Equal(t, andromeda.CachedUsage{QuotaID: "a", Key: "usage:a", Usage: 7, Found: true}, got[0])
	assert.False(t, got[1].Found)
	assert.Equal(t, int64(9), got[2].Usage)
}
