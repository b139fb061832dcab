package andromeda_test

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

func newHolds(b backend, db *quotaDB, holdFor time.Duration) andromeda.QuotaHolds {
	return andromeda.NewQuotaHolds(andromeda.QuotaHoldsConfig{
		Cache: b.cache,
		Quota: andromeda.Quota{
			GetQuotaLimit:           db.limit(),
			GetQuotaUsage:           db.usage(),
			GetQuotaUsageKey:        usageKey,
			GetQuotaUsageExpiration: expireIn(time.Hour),
		},
		GetQuotaUsageConfig: fastRetry,
		HoldFor:             holdFor,
	})
}

func TestHoldLifecycle(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := newQuotaDB()
		db.put("sale", 10, 3) // 3 committed in the database
		holds := newHolds(b, db, time.Minute)
		ctx := context.Background()
		order := func(id string, n int64) *andromeda.QuotaUsageRequest { return idem("sale", n, id) }

		usage, err := holds.Reserve.Do(ctx, order("o1", 4))
		require.NoError(t, err)
		assert.Equal(t, int64(7), usage, "reported usage is committed plus active holds")
		_, err = holds.Reserve.Do(ctx, order("o2", 4))
		require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded, "held quota counts against the limit")

		usage, err = holds.Commit.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "sale", IdempotencyKey: "o1"})
		require.NoError(t, err)
		assert.Equal(t, int64(7), usage)
		_, err = holds.Cancel.Do(ctx, order("o1", 0))
		require.ErrorIs(t, err, andromeda.ErrHoldCommitted)

		_, err = holds.Reserve.Do(ctx, order("o3", 3))
		require.NoError(t, err)
		usage, err = holds.Cancel.Do(ctx, order("o3", 0))
		require.NoError(t, err)
		assert.Equal(t, int64(7), usage)
		_, err = holds.Commit.Do(ctx, order("o3", 0))
		require.ErrorIs(t, err, andromeda.ErrHoldCancelled)
		_, err = holds.Commit.Do(ctx, order("o4", 0))
		require.ErrorIs(t, err, andromeda.ErrHoldNotFound)
		assert.Equal(t, int64(7), b.get(t, keyOf("sale")))

		_, err = holds.Reserve.Do(ctx, req("sale", 1))
		require.ErrorIs(t, err, andromeda.ErrInvalidRequest, "a hold needs its ID")
	})
}

// Abandoned holds give their quota back after HoldFor while claims continue, and nothing
// is oversold: every claim reserves, then commits.
func TestAbandonedHoldsAreReleasedWhileClaimsContinue(t *testing.T) {
	eachRealBackend(t, func(t *testing.T, b backend) {
		const limit = 60
		db := newQuotaDB()
		db.put("sale", limit, 0)
		holds := newHolds(b, db, 300*time.Millisecond)
		ctx := context.Background()
		for i := 0; i < 20; i++ { // processes that reserve and die
			_, err := holds.Reserve.Do(ctx, idem("sale", 1, fmt.Sprint("abandoned-", i)))
			require.NoError(t, err)
		}

		var committed, refused, highest atomic.Int64
		deadline := time.Now().Add(1200 * time.Millisecond)
		var wg sync.WaitGroup
		for g := 0; g < 16; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for i := 0; time.Now().Before(deadline); i++ {
					order := idem("sale", 1, fmt.Sprintf("order-%d-%d", g, i))
					usage, err := holds.Reserve.Do(ctx, order)
					if errors.Is(err, andromeda.ErrQuotaLimitExceeded) {
						refused.Add(1)
						time.Sleep(5 * time.Millisecond)
						continue
					}
					if !assert.NoError(t, err) {
						return
					}
					if usage > highest.Load() {
						highest.Store(usage)
					}
					if _, err := holds.Commit.Do(ctx, order); assert.NoError(t, err) {
						committed.Add(1)
					}
				}
			}(g)
		}
		wg.Wait()

		assert.Equal(t, int64(limit), committed.Load(), "the abandoned holds' quota was sold after they expired")
		assert.LessOrEqual(t, highest.Load(), int64(limit), "never oversold")
		assert.Positive(t, refused.Load())
		assert.Equal(t, int64(limit), b.get(t, keyOf("sale")))
	})
}

// Commit and Cancel race on the same holds: for each, exactly one wins.
func TestCommitCancelRace(t *testing.T) {
	eachRealBackend(t, func(t *testing.T, b backend) {
		db := newQuotaDB()
		db.put("sale", 1000, 0)
		holds := newHolds(b, db, time.Minute)
		ctx := context.Background()
		const n = 100
		for i := 0; i < n; i++ {
			_, err := holds.Reserve.Do(ctx, idem("sale", 2, fmt.Sprint("o", i)))
			require.NoError(t, err)
		}
		var commits, cancels atomic.Int64
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			order := idem("sale", 0, fmt.Sprint("o", i))
			wg.Add(2)
			go func() {
				defer wg.Done()
				if _, err := holds.Commit.Do(ctx, order); err == nil {
					commits.Add(1)
				} else {
					assert.ErrorIs(t, err, andromeda.ErrHoldCancelled)
				}
			}()
			go func() {
				defer wg.Done()
				if _, err := holds.Cancel.Do(ctx, order); err == nil {
					cancels.Add(1)
				} else {
					assert.ErrorIs(t, err, andromeda.ErrHoldCommitted)
				}
			}()
		}
		wg.Wait()
		assert.Equal(t, int64(n), commits.Load()+cancels.Load())
		assert.Equal(t, 2*commits.Load(), b.get(t, keyOf("sale")))
	})
}

// A commit after the hold expired fails clearly and changes nothing.
func TestCommitAfterExpiry(t *testing.T) {
	b := standaloneBackend(t)
	db := newQuotaDB()
	db.put("sale", 10, 5)
	holds := newHolds(b, db, 50*time.Millisecond)
	ctx := context.Background()
	_, err := holds.Reserve.Do(ctx, idem("sale", 3, "late"))
	require.NoError(t, err)
	assert.Equal(t, int64(8), b.get(t, keyOf("sale")))
	time.Sleep(150 * time.Millisecond)
	_, err = holds.Commit.Do(ctx, idem("sale", 0, "late"))
	require.ErrorIs(t, err, andromeda.ErrHoldExpired)
	assert.Contains(t, err.Error(), "quota hold expired")
	assert.Equal(t, int64(5), b.get(t, keyOf("sale")), "the expired hold's quota was released, and the commit kept nothing")
}
