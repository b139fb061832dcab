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
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Coalesced adds of mixed amounts (1..7) near limits of 2^53-1 and 2^53, from 128
// goroutines on one hot key, a third of them with deadlines of 0-2 ms so that callers
// leave the queue and batches while they are in flight. Adds only, so usage only grows:
// an add refused at some moment was refused for good (final usage > limit - amount), the
// usage moves by at least the adds reported applied and at most those plus the ones whose
// outcome is unknown, and never passes the limit.
func TestReview2CoalescedMixedAmountsNearMaxAmount(t *testing.T) {
	for _, limit := range []int64{andromeda.MaxAmount - 1, andromeda.MaxAmount} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			eachRealBackend(t, func(t *testing.T, b backend) {
				const start = andromeda.MaxAmount - 3000
				db := newQuotaDB()
				db.put("co", limit, start)
				add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) { c.Option.Coalesce = true })
				var applied, unknown, left atomic.Int64
				var mu sync.Mutex
				var refused []int64
				var odd []error
				var wg sync.WaitGroup
				for g := 0; g < 128; g++ {
					wg.Add(1)
					go func(g int) {
						defer wg.Done()
						rng := rand.New(rand.NewSource(int64(g)))
						for i := 0; i < 20; i++ {
							amount := int64(1 + rng.Intn(7))
							ctx, cancel := context.Background(), context.CancelFunc(func() {})
							if rng.Intn(3) == 0 {
								ctx, cancel = context.WithTimeout(ctx, time.Duration(rng.Intn(2000))*time.Microsecond)
							}
							_, err := add.Do(ctx, req("co", amount))
							cancel()
							switch {
							case err == nil:
								applied.Add(amount)
							case errors.Is(err, andromeda.ErrQuotaLimitExceeded):
								mu.Lock()
								refused = append(refused, amount)
								mu.Unlock()
							case errors.Is(err, andromeda.ErrUnknownOutcome):
								unknown.Add(amount)
							case errors.Is(err, context.DeadlineExceeded):
								left.Add(1)
							default:
								mu.Lock()
								odd = append(odd, err)
								mu.Unlock()
							}
						}
					}(g)
				}
				wg.Wait()
				final := b.get(t, keyOf("co"))
				t.Logf("limit %d: moved %d; applied %d, unknown %d, left before sent %d, refused %d", limit, final-start, applied.Load(), unknown.Load(), left.Load(), len(refused))
				require.Empty(t, odd)
				assert.LessOrEqual(t, final, limit)
				assert.GreaterOrEqual(t, final-start, applied.Load())
				assert.LessOrEqual(t, final-start, applied.Load()+unknown.Load())
				for _, a := range refused {
					if !assert.Greater(t, final, limit-a, "an add of %d was refused, yet %d is left at the end", a, limit-final) {
						break
					}
				}
			})
		})
	}
}

// rueidis and valkey-go clients closed while 64 adds are in flight through a proxy that
// adds latency: an add reported failed cleanly (ErrRedisUnavailable, or any error that is
// not ErrUnknownOutcome) must not have been counted.
func TestReview2ClosedClientNeverHidesACountedAdd(t *testing.T) {
	redistest.Require(t)
	const key = "review2:{closed}:usage"
	for _, adapter := range defaultClientCaches {
		if adapter.name != "rueidis" && adapter.name != "valkey" {
			continue
		}
		t.Run(adapter.name, func(t *testing.T) {
			for round := 0; round < 5; round++ {
				rig := newResendRig(t, adapter.cache)
				add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: rig.cache, GetQuotaLimit: constLimit(bigLimit), GetQuotaUsageKey: constKey(key)})
				require.NoError(t, rig.direct.Set(context.Background(), key, 0, 0).Err())
				rig.proxy.SetLatency(time.Duration(round+1) * time.Millisecond)
				var ok, unknown, clean atomic.Int64
				var wg sync.WaitGroup
				for g := 0; g < 64; g++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := 0; i < 30; i++ {
							_, err := add.Do(context.Background(), req("q", 1))
							switch {
							case err == nil:
								ok.Add(1)
							case errors.Is(err, andromeda.ErrUnknownOutcome):
								unknown.Add(1)
							default:
								clean.Add(1)
							}
						}
					}()
				}
				time.Sleep(time.Duration(20+10*round) * time.Millisecond)
				rig.proxy.CutAll()
				time.Sleep(5 * time.Millisecond)
				rig.proxy.CutAll()
				wg.Wait()
				moved := rig.usage(t, key)
				t.Logf("round %d: moved %d; ok %d, unknown %d, failed cleanly %d", round, moved, ok.Load(), unknown.Load(), clean.Load())
				assert.GreaterOrEqual(t, moved, ok.Load())
				assert.LessOrEqual(t, moved, ok.Load()+unknown.Load(), "an add reported failed cleanly was counted")
			}
		})
	}
}
