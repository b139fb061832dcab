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

// Commits and cancels race the expiry of their holds while plain adds run on the quota:
// whatever wins, each hold is counted once or released once. After every hold has ended,
// the usage is exactly the commits that succeeded plus the adds that succeeded: a commit
// accepted after its hold was released, or a hold released twice, breaks the sum.
func TestCommitsAndCancelsRacingExpiry(t *testing.T) {
	skipLongInShort(t)
	eachRealBackend(t, func(t *testing.T, b backend) {
		const holdsN, limit, workers = 160, 1000, 16
		db := newQuotaDB()
		db.put("sale", limit, 0)
		const holdFor = 300 * time.Millisecond
		holds := newHolds(b, db, holdFor)
		add := newAdd(b, db, nil)
		ctx := context.Background()
		b.set(t, keyOf("sale"), 0)

		var committed, added, expired atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := w; i < holdsN; i += workers {
					id := fmt.Sprint("h-", i)
					_, err := holds.Reserve.Do(ctx, idem("sale", 1, id))
					if !assert.NoError(t, err) {
						return
					}
					// Close it late, around its end, so that some commits come after it.
					time.Sleep(holdFor - 30*time.Millisecond + time.Duration(i%12)*10*time.Millisecond)
					op := holds.Commit
					if i%3 == 0 {
						op = holds.Cancel
					}
					_, err = op.Do(ctx, idem("sale", 0, id))
					switch {
					case err == nil && i%3 != 0:
						committed.Add(1)
					case errors.Is(err, andromeda.ErrHoldExpired):
						expired.Add(1)
					case err != nil:
						assert.NoError(t, err)
					}
					if _, err := add.Do(ctx, req("sale", 1)); err == nil {
						added.Add(1)
					} else {
						assert.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded)
					}
				}
			}(w)
		}
		wg.Wait()
		waitPast(start.Add(time.Since(start)), holdFor)             // every hold has ended
		usage, err := holds.Cancel.Do(ctx, idem("sale", 0, "none")) // releases what is left
		require.NoError(t, err)
		t.Logf("%d holds: %d committed, %d commits came too late, %d plain adds", holdsN, committed.Load(), expired.Load(), added.Load())
		assert.Equal(t, committed.Load()+added.Load(), usage)
		assert.Equal(t, usage, b.get(t, keyOf("sale")))
		assert.Positive(t, expired.Load(), "some commits came after the end")
	})
}

// Two QuotaHolds with different HoldFor on one quota: the short holds are released when
// they end, the long ones stay until theirs, whatever call comes next.
func TestHoldsWithDifferentHoldForOnOneQuota(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := newQuotaDB()
		db.put("sale", 10, 0)
		long, short := newHolds(b, db, time.Minute), newHolds(b, db, 150*time.Millisecond)
		add, reduce := newAdd(b, db, nil), newReduce(b, db, nil)
		ctx := context.Background()
		b.set(t, keyOf("sale"), 0)
		_, err := long.Reserve.Do(ctx, idem("sale", 3, "long-1"))
		require.NoError(t, err)
		start := time.Now()
		_, err = short.Reserve.Do(ctx, idem("sale", 4, "short-1"))
		require.NoError(t, err)
		_, err = long.Reserve.Do(ctx, idem("sale", 3, "long-2"))
		require.NoError(t, err)
		_, err = add.Do(ctx, req("sale", 1))
		require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded)
		waitPast(start, 150*time.Millisecond)

		usage, err := add.Do(ctx, req("sale", 4)) // fits once short-1 is released
		require.NoError(t, err)
		assert.Equal(t, int64(10), usage)
		usage, err = reduce.Do(ctx, req("sale", 4))
		require.NoError(t, err)
		assert.Equal(t, int64(6), usage, "the long holds are still counted")
		_, err = short.Commit.Do(ctx, idem("sale", 0, "short-1"))
		require.ErrorIs(t, err, andromeda.ErrHoldExpired)
		usage, err = long.Cancel.Do(ctx, idem("sale", 0, "long-1"))
		require.NoError(t, err)
		assert.Equal(t, int64(3), usage)
		usage, err = long.Commit.Do(ctx, idem("sale", 0, "long-2"))
		require.NoError(t, err)
		assert.Equal(t, int64(3), usage)
		assert.Equal(t, int64(3), b.get(t, keyOf("sale")))
	})
}
