package andromeda_test

import (
	"context"
	"errors"
	"math/rand"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/internal/storetypes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Review 4, attacks that held: coalesced adds whose limits differ from Do to Do (the limit
// changes between Dos: a batch carries n limits), and adds with Option.CacheLimit whose
// limit key is deleted and set again during the sale (batches that find the limit missing).
// Every caller gets its own add's outcome and its own limit; replaying the decided adds
// one by one through add.lua gives the same results and usage; usage never passes the
// highest limit.
func TestReview4CoalescedMixedLimitsAndLimitKey(t *testing.T) {
	const maxLimitKeyDeletions = 15
	for _, mode := range []string{"mixed limits", "limit key"} {
		t.Run(mode, func(t *testing.T) {
			eachBackend(t, func(t *testing.T, b backend) {
				ctx := context.Background()
				var limitNow atomic.Int64
				limitNow.Store(400)
				rec, coalesce := coalescing(b)
				add := newAdd(b, newQuotaDB(), func(c *andromeda.AddQuotaUsageConfig) {
					coalesce(c)
					c.GetQuotaLimit = andromeda.GetQuotaFunc(func(_ context.Context, r *andromeda.QuotaRequest) (int64, error) {
						if mode == "mixed limits" {
							return 300 + int64(r.Data.(int)%5)*50, nil
						}
						return limitNow.Load(), nil
					})
					c.GetQuotaUsage = nil
					c.Option.CacheLimit = mode == "limit key"
				})
				b.set(t, keyOf("mx"), 0)
				var admittedUnits atomic.Int64
				var wg sync.WaitGroup
				start := make(chan struct{})
				stop := make(chan struct{})
				if mode == "limit key" {
					// A bounded number of deletions: fewer than an add's 20 loads, so no add
					// can lose every load to the deleter on a slow machine (a CI run under
					// load once did, after 20 deletions 3 ms apart outpaced one add's retries).
					go func() {
						for i := 0; i < maxLimitKeyDeletions; i++ {
							select {
							case <-stop:
								return
							default:
							}
							_ = b.client.Del(ctx, andromeda.LimitKey(keyOf("mx"))).Err()
							limitNow.Store(300 + int64(i%5)*50)
							time.Sleep(3 * time.Millisecond)
						}
					}()
				}
				for g := 0; g < 256; g++ {
					wg.Add(1)
					go func(seed int64) {
						defer wg.Done()
						rng := rand.New(rand.NewSource(seed))
						<-start
						for i := 0; i < 4; i++ {
							amount := 1 + rng.Int63n(3)
							r := req("mx", amount)
							r.Data = int(rng.Int63n(1000))
							_, err := add.Do(ctx, r)
							var qe *andromeda.QuotaError
							switch {
							case err == nil:
								admittedUnits.Add(amount)
							case errors.Is(err, andromeda.ErrQuotaLimitExceeded) && errors.As(err, &qe):
								if mode == "mixed limits" {
									assert.Equal(t, 300+int64(r.Data.(int)%5)*50, qe.Limit, "its own limit")
								}
								assert.Greater(t, qe.Usage+amount, qe.Limit)
							default:
								t.Error(err)
							}
						}
					}(int64(g))
				}
				close(start)
				wg.Wait()
				close(stop)
				usage := b.get(t, keyOf("mx"))
				assert.Equal(t, admittedUnits.Load(), usage)
				assert.LessOrEqual(t, usage, int64(500))
				if mode == "limit key" {
					return // the limit key changed under the batches: no replay
				}
				require.Len(t, rec.decided, 1024)
				assert.Greater(t, rec.largest, 1)
				b.set(t, keyOf("mx-replay"), 0)
				for i, args := range rec.decided {
					args.Key = keyOf("mx-replay")
					res, err := storeOf(b.cache).AddUsage(ctx, args)
					require.NoError(t, err)
					require.Equal(t, rec.results[i], res, "add %d", i)
					_ = storetypes.CacheApplied
				}
				assert.Equal(t, usage, b.get(t, keyOf("mx-replay")))
			})
		})
	}
}
