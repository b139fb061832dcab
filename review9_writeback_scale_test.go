package andromeda_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The write-back helper at scale: 2,400 quotas on a real cluster and standalone, a third
// of them with committed usage only, a third also with open holds and expired ones not yet
// released, a third never loaded. ReadCachedUsages must report for each exactly the
// committed usage in Usage, the holds in Held, and Found false for the absent ones, in
// request order, while claims on other quotas run.
func TestReview9WriteBackOfThousandsOfQuotas(t *testing.T) {
	skipLongInShort(t)
	eachRealBackend(t, func(t *testing.T, b backend) {
		const quotas = 2400
		ctx := context.Background()
		db := newQuotaDB()
		for q := 0; q < quotas; q++ {
			db.put(fmt.Sprint("w", q), 1000, int64(q%7))
		}
		add := newAdd(b, db, nil)
		holdsFor := func(d time.Duration) andromeda.QuotaHolds {
			return andromeda.NewQuotaHolds(andromeda.QuotaHoldsConfig{Cache: b.cache, HoldFor: d,
				Quota: andromeda.Quota{GetQuotaLimit: db.limit(), GetQuotaUsage: db.usage(), GetQuotaUsageKey: usageKey}})
		}
		long, short := holdsFor(time.Hour), holdsFor(20*time.Millisecond)
		wantUsage := make([]int64, quotas)
		wantHeld := make([]int64, quotas)
		var wg sync.WaitGroup
		next := make(chan int)
		for w := 0; w < 16; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for q := range next {
					id := fmt.Sprint("w", q)
					switch q % 3 {
					case 0:
						_, err := add.Do(ctx, req(id, int64(1+q%5)))
						require.NoError(t, err)
						wantUsage[q] = int64(q%7 + 1 + q%5)
					case 1:
						_, err := add.Do(ctx, req(id, 2))
						require.NoError(t, err)
						_, err = long.Reserve.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: id, Usage: int64(1 + q%4), IdempotencyKey: "open"})
						require.NoError(t, err)
						_, err = short.Reserve.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: id, Usage: 3, IdempotencyKey: "ending"})
						require.NoError(t, err)
						_, err = long.Reserve.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: id, Usage: 5, IdempotencyKey: "kept"})
						require.NoError(t, err)
						_, err = long.Commit.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: id, Usage: 5, IdempotencyKey: "kept"})
						require.NoError(t, err)
						wantUsage[q] = int64(q%7 + 2 + 5)
						wantHeld[q] = int64(1+q%4) + 3
					}
				}
			}()
		}
		for q := 0; q < quotas; q++ {
			next <- q
		}
		close(next)
		wg.Wait()
		time.Sleep(100 * time.Millisecond) // the short holds have ended, not yet released

		// Claims on other quotas meanwhile.
		stop := make(chan struct{})
		var busy sync.WaitGroup
		for g := 0; g < 4; g++ {
			busy.Add(1)
			go func(g int) {
				defer busy.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					db.put(fmt.Sprint("other", g, "-", i%50), 1000, 0)
					_, _ = add.Do(ctx, req(fmt.Sprint("other", g, "-", i%50), 1))
				}
			}(g)
		}
		list := make([]*andromeda.QuotaRequest, quotas)
		for q := range list {
			list[q] = &andromeda.QuotaRequest{QuotaID: fmt.Sprint("w", q)}
		}
		start := time.Now()
		got, err := andromeda.ReadCachedUsages(ctx, b.cache, usageKey, list)
		elapsed := time.Since(start)
		close(stop)
		busy.Wait()
		require.NoError(t, err)
		require.Len(t, got, quotas)
		bad := 0
		for q, u := range got {
			want := andromeda.CachedUsage{QuotaID: fmt.Sprint("w", q), Key: keyOf(fmt.Sprint("w", q)), Usage: wantUsage[q], Held: wantHeld[q], Found: q%3 != 2}
			if u != want {
				bad++
				if bad < 10 {
					t.Errorf("quota %d: got %+v, want %+v", q, u, want)
				}
			}
		}
		assert.Zero(t, bad)
		t.Logf("read %d quotas in %v", quotas, elapsed)
	})
}
