package andromeda_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A forgotten usage is loaded again from the database by the next change.
func TestForgetUsageReloadsFromTheDatabase(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		db := newQuotaDB()
		db.put("f", 10, 4)
		add := newAdd(b, db, nil)
		usage, err := add.Do(ctx, req("f", 1))
		require.NoError(t, err)
		require.Equal(t, int64(5), usage)

		forgotten, found, err := andromeda.ForgetUsage(ctx, b.cache, keyOf("f"))
		require.NoError(t, err)
		assert.True(t, found)
		assert.Equal(t, int64(5), forgotten)
		assert.Equal(t, int64(-1), b.get(t, keyOf("f")), "the usage is gone from Redis")

		db.put("f", 10, 7) // the database says otherwise now
		usage, err = add.Do(ctx, req("f", 1))
		require.NoError(t, err)
		assert.Equal(t, int64(8), usage, "loaded afresh: 7 + 1")
		assert.Equal(t, int64(2), db.loads.Load())

		_, found, err = andromeda.ForgetUsage(ctx, b.cache, keyOf("never"))
		require.NoError(t, err)
		assert.False(t, found)
		_, _, err = andromeda.ForgetUsage(ctx, b.cache, "")
		assert.ErrorIs(t, err, andromeda.ErrInvalidRequest)
		b.set(t, keyOf("bad"), "not a number")
		_, _, err = andromeda.ForgetUsage(ctx, b.cache, keyOf("bad"))
		assert.ErrorIs(t, err, andromeda.ErrInvalidCachedUsage)
		assert.Equal(t, "not a number", b.client.Get(ctx, keyOf("bad")).Val(), "kept")
	})
}

// Open holds are forgotten with the usage that counted them: committing one afterwards
// says it expired, cancelling it gives nothing back to the reloaded usage.
func TestForgetUsageDropsItsHolds(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		db := newQuotaDB()
		db.put("h", 10, 2)
		holds := andromeda.NewQuotaHolds(andromeda.QuotaHoldsConfig{Cache: b.cache, Quota: andromeda.Quota{GetQuotaLimit: db.limit(),
			GetQuotaUsage: db.usage(), GetQuotaUsageKey: usageKey, GetQuotaUsageExpiration: expireIn(time.Hour)},
			GetQuotaUsageConfig: fastRetry, HoldFor: time.Hour})
		hold := func(id string, amount int64) *andromeda.QuotaUsageRequest {
			return &andromeda.QuotaUsageRequest{QuotaID: "h", Usage: amount, IdempotencyKey: id}
		}
		usage, err := holds.Reserve.Do(ctx, hold("a", 3))
		require.NoError(t, err)
		require.Equal(t, int64(5), usage)

		_, found, err := andromeda.ForgetUsage(ctx, b.cache, keyOf("h"))
		require.NoError(t, err)
		require.True(t, found)
		buckets, _ := andromeda.HoldKeys(keyOf("h"), "")
		assert.Zero(t, b.client.Exists(ctx, buckets).Val(), "the hold buckets went with the usage")

		_, err = holds.Commit.Do(ctx, hold("a", 0))
		assert.ErrorIs(t, err, andromeda.ErrHoldExpired)
		usage, err = holds.Reserve.Do(ctx, hold("b", 1)) // loads the usage again
		require.NoError(t, err)
		assert.Equal(t, int64(3), usage, "2 from the database + b's 1; a's 3 is not counted")
		usage, err = holds.Cancel.Do(ctx, hold("a", 0))
		require.NoError(t, err)
		assert.Equal(t, int64(3), usage, "cancelling a forgotten hold gives nothing back")
	})
}

// Idempotency records outlive a forget: a repeated Do replays its outcome and changes
// nothing, before and after the usage is loaded again.
func TestForgetUsageKeepsIdempotencyRecords(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		db := newQuotaDB()
		db.put("i", 10, 4)
		add := newAdd(b, db, nil)
		keyed := &andromeda.QuotaUsageRequest{QuotaID: "i", Usage: 2, IdempotencyKey: "order-1"}
		usage, err := add.Do(ctx, keyed)
		require.NoError(t, err)
		require.Equal(t, int64(6), usage)

		_, _, err = andromeda.ForgetUsage(ctx, b.cache, keyOf("i"))
		require.NoError(t, err)
		db.put("i", 10, 6) // the write-back job had synced the add

		usage, err = add.Do(ctx, keyed)
		require.NoError(t, err)
		assert.Equal(t, int64(6), usage, "the recorded outcome")
		usage, err = add.Do(ctx, req("i", 1))
		require.NoError(t, err)
		assert.Equal(t, int64(7), usage, "the repeat added nothing to the reloaded 6")
		usage, err = add.Do(ctx, keyed)
		require.NoError(t, err)
		assert.Equal(t, int64(6), usage, "still the recorded outcome")
		assert.Equal(t, int64(7), b.get(t, keyOf("i")))
	})
}

// ReleaseExpiredHolds gives back the holds that ended, without waiting for the next change.
func TestReleaseExpiredHolds(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		holds := andromeda.NewQuotaHolds(andromeda.QuotaHoldsConfig{Cache: b.cache, Quota: andromeda.Quota{GetQuotaLimit: constLimit(10),
			GetQuotaUsageKey: usageKey}, HoldFor: 100 * time.Millisecond})
		_, err := holds.Reserve.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "r", Usage: 4, IdempotencyKey: "a"})
		require.NoError(t, err)
		require.Equal(t, int64(4), b.get(t, keyOf("r")))
		time.Sleep(250 * time.Millisecond) // the scripts read the server's clock

		usage, found, err := andromeda.ReleaseExpiredHolds(ctx, b.cache, keyOf("r"))
		require.NoError(t, err)
		assert.True(t, found)
		assert.Equal(t, int64(0), usage)
		assert.Equal(t, int64(0), b.get(t, keyOf("r")))

		_, found, err = andromeda.ReleaseExpiredHolds(ctx, b.cache, keyOf("absent"))
		require.NoError(t, err)
		assert.False(t, found)
		_, _, err = andromeda.ReleaseExpiredHolds(ctx, b.cache, "")
		assert.ErrorIs(t, err, andromeda.ErrInvalidRequest)
	})
}

// A forget is atomic against concurrent changes: every add and reserve that succeeded is
// in exactly one place, the usage one forget took away or the usage left at the end.
func TestForgetUsageLosesNoConcurrentChange(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		const workers, perWorker = 8, 40
		add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: b.cache, GetQuotaLimit: constLimit(andromeda.MaxAmount),
			GetQuotaUsageKey: usageKey})
		holds := andromeda.NewQuotaHolds(andromeda.QuotaHoldsConfig{Cache: b.cache, Quota: andromeda.Quota{GetQuotaLimit: constLimit(andromeda.MaxAmount),
			GetQuotaUsageKey: usageKey}, HoldFor: time.Hour})
		var wg sync.WaitGroup
		var applied atomic.Int64
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < perWorker; i++ {
					var err error
					if i%2 == 0 {
						_, err = add.Do(ctx, req("c", 1))
					} else {
						_, err = holds.Reserve.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "c", Usage: 2, IdempotencyKey: fmt.Sprint(w, "-", i)})
					}
					if !assert.NoError(t, err) {
						return
					}
					applied.Add(int64(1 + i%2))
				}
			}()
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		var forgotten, forgets int64
		for running := true; running; {
			select {
			case <-done:
				running = false
			default:
			}
			usage, found, err := andromeda.ForgetUsage(ctx, b.cache, keyOf("c"))
			require.NoError(t, err)
			if found {
				forgotten += usage
				forgets++
			}
		}
		left := max(b.get(t, keyOf("c")), 0)
		assert.Equal(t, applied.Load(), forgotten+left, "%d forgets took %d, %d left", forgets, forgotten, left)
		assert.Positive(t, forgets)
	})
}
