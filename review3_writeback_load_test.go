package andromeda_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// README, "Writing usage back to the database" and ForgetUsage: the write-back job writes
// Usage (committed, holds left out), and a forget after it reloads the quota from the
// database; open holds are forgotten with the usage (Commit: ErrHoldExpired, Cancel gives
// nothing back). Under load (claims, cancels, holds reserved then committed or cancelled),
// with write-back + forget run between operations, usage must stay equal to the committed
// claims and never pass the limit.
func TestReview3WriteBackForgetKeepsClaimsUnderLoad(t *testing.T) {
	eachRealBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		const limit = 200
		db := newQuotaDB()
		db.put("wbl", limit, 0)
		holds := newHolds(b, db, time.Minute)
		add := newAdd(b, db, nil)
		reduce := newReduce(b, db, nil)
		var gate sync.RWMutex
		var claims atomic.Int64
		var over atomic.Int64
		writeBackForget := func() {
			usages, err := andromeda.ReadCachedUsages(ctx, b.cache, usageKey, []*andromeda.QuotaRequest{{QuotaID: "wbl"}})
			require.NoError(t, err)
			if usages[0].Found {
				db.put("wbl", limit, usages[0].Usage)
			}
			_, _, err = andromeda.ForgetUsage(ctx, b.cache, keyOf("wbl"))
			require.NoError(t, err)
		}
		stop := make(chan struct{})
		var coord sync.WaitGroup
		coord.Add(1)
		go func() {
			defer coord.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
				}
				gate.Lock()
				writeBackForget()
				gate.Unlock()
			}
		}()
		var wg sync.WaitGroup
		for w := 0; w < 6; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				rng := rand.New(rand.NewSource(int64(w)))
				mine := 0
				op := func(f func()) { gate.RLock(); defer gate.RUnlock(); f() }
				for i := 0; i < 120; i++ {
					switch r := rng.Intn(10); {
					case r < 4:
						op(func() {
							u, err := add.Do(ctx, req("wbl", 1))
							if err == nil {
								mine++
								claims.Add(1)
								if u > limit {
									over.Add(1)
								}
							} else if !errors.Is(err, andromeda.ErrQuotaLimitExceeded) {
								t.Errorf("add: %v", err)
							}
						})
					case r < 6:
						if mine == 0 {
							continue
						}
						op(func() {
							_, err := reduce.Do(ctx, req("wbl", 1))
							if err == nil {
								mine--
								claims.Add(-1)
							} else {
								t.Errorf("reduce: %v", err)
							}
						})
					default:
						id := fmt.Sprintf("h-%d-%d", w, i)
						reserved := false
						op(func() {
							u, err := holds.Reserve.Do(ctx, idem("wbl", 1, id))
							if err == nil {
								reserved = true
								if u > limit {
									over.Add(1)
								}
							} else if !errors.Is(err, andromeda.ErrQuotaLimitExceeded) {
								t.Errorf("reserve: %v", err)
							}
						})
						if !reserved {
							continue
						}
						time.Sleep(time.Duration(rng.Intn(3)) * time.Millisecond)
						op(func() {
							if rng.Intn(10) < 7 {
								_, err := holds.Commit.Do(ctx, idem("wbl", 0, id))
								switch {
								case err == nil:
									mine++
									claims.Add(1)
								case errors.Is(err, andromeda.ErrHoldExpired): // forgotten with the usage
								default:
									t.Errorf("commit: %v", err)
								}
							} else {
								_, err := holds.Cancel.Do(ctx, idem("wbl", 0, id))
								if err != nil {
									t.Errorf("cancel: %v", err)
								}
							}
						})
					}
				}
			}(w)
		}
		wg.Wait()
		close(stop)
		coord.Wait()
		usages, err := andromeda.ReadCachedUsages(ctx, b.cache, usageKey, []*andromeda.QuotaRequest{{QuotaID: "wbl"}})
		require.NoError(t, err)
		got := db.usages["wbl"]
		if usages[0].Found {
			got = usages[0].Usage
			assert.Zero(t, usages[0].Held, "every hold is closed")
		}
		t.Logf("claims %d, usage %d (found %v), loads %d", claims.Load(), got, usages[0].Found, db.loads.Load())
		assert.Equal(t, claims.Load(), got, "usage must equal the committed claims")
		assert.Zero(t, over.Load(), "usage passed the limit")
	})
}
