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
)

// The README's claim flow (add, insert fails, reduce with the same request, retry) end to
// end through a proxy that drops 10% of replies after Redis ran the script, on every
// adapter with default client options: 2,000 claims on a limit of 1,500, 30% of inserts
// failing. The application retries a Do whose outcome is unknown (or Redis unavailable)
// with the same key, as the README says. Usage must equal the claims kept.
func TestReview2ClaimFlowLostRepliesEveryStep(t *testing.T) {
	skipLongInShort(t)
	redistest.Require(t)
	const key = "review2:{claims}:usage"
	const claims, limit = 2000, 1500
	for _, adapter := range defaultClientCaches {
		t.Run(adapter.name, func(t *testing.T) {
			rig := newResendRig(t, adapter.cache)
			add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: rig.cache, GetQuotaLimit: constLimit(limit), GetQuotaUsageKey: constKey(key)})
			reduce := andromeda.ReduceQuotaUsage(andromeda.ReduceQuotaUsageConfig{Cache: rig.cache, GetQuotaUsageKey: constKey(key)})
			rig.proxy.SetDropRate(dropRate)
			var kept, soldOut, failedInserts, retries atomic.Int64
			var mu sync.Mutex
			var untyped []error
			// retry runs do until its outcome is known.
			retry := func(do func() error) error {
				for {
					err := do()
					if errors.Is(err, andromeda.ErrUnknownOutcome) || errors.Is(err, andromeda.ErrRedisUnavailable) {
						retries.Add(1)
						time.Sleep(time.Millisecond)
						continue
					}
					return err
				}
			}
			var next atomic.Int64
			var wg sync.WaitGroup
			for w := 0; w < 8; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					rng := rand.New(rand.NewSource(int64(w)))
					for i := int(next.Add(1) - 1); i < claims; i = int(next.Add(1) - 1) {
						claim := &andromeda.QuotaUsageRequest{QuotaID: "c", Usage: 1, IdempotencyKey: fmt.Sprint("claim-", i)}
						for {
							err := retry(func() error {
								ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
								defer cancel()
								_, err := add.Do(ctx, claim)
								return err
							})
							if errors.Is(err, andromeda.ErrQuotaLimitExceeded) {
								soldOut.Add(1)
								break
							}
							if err != nil {
								mu.Lock()
								untyped = append(untyped, err)
								mu.Unlock()
								break
							}
							if rng.Intn(10) >= 3 {
								kept.Add(1)
								break
							}
							failedInserts.Add(1)
							err = retry(func() error {
								ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
								defer cancel()
								_, err := reduce.Do(ctx, claim)
								return err
							})
							if err != nil {
								mu.Lock()
								untyped = append(untyped, err)
								mu.Unlock()
								break
							}
						}
					}
				}(w)
			}
			wg.Wait()
			rig.proxy.SetDropRate(0)
			usage := rig.usage(t, key)
			t.Logf("kept %d, sold out %d, failed inserts %d, app retries %d, usage %d", kept.Load(), soldOut.Load(), failedInserts.Load(), retries.Load(), usage)
			assert.Empty(t, untyped)
			assert.Equal(t, kept.Load(), usage, "usage == claims kept")
			assert.LessOrEqual(t, usage, int64(limit))
			assert.Equal(t, int64(limit), kept.Load(), "2,000 claims on 1,500 units: every unit sold")
		})
	}
}

// The hold flow (reserve, then commit or cancel) through the same proxy dropping 10% of
// replies, on every adapter: 1,500 orders on a limit of 1,000, 30% cancelled, each step
// retried by the application while its outcome is unknown. Usage must equal the units
// committed, and every unit not committed must be reservable again.
func TestReview2HoldFlowLostRepliesEveryStep(t *testing.T) {
	skipLongInShort(t)
	redistest.Require(t)
	const key = "review2:{holds}:usage"
	const orders, limit = 1500, 1000
	for _, adapter := range defaultClientCaches {
		t.Run(adapter.name, func(t *testing.T) {
			rig := newResendRig(t, adapter.cache)
			holds := andromeda.NewQuotaHolds(andromeda.QuotaHoldsConfig{Cache: rig.cache, HoldFor: time.Minute,
				Quota: andromeda.Quota{GetQuotaLimit: constLimit(limit), GetQuotaUsageKey: constKey(key)}})
			rig.proxy.SetDropRate(dropRate)
			var committed, soldOut, cancelled atomic.Int64
			var mu sync.Mutex
			var odd []error
			retry := func(step andromeda.UpdateQuotaUsage, r *andromeda.QuotaUsageRequest) error {
				for {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					_, err := step.Do(ctx, r)
					cancel()
					if errors.Is(err, andromeda.ErrUnknownOutcome) || errors.Is(err, andromeda.ErrRedisUnavailable) {
						time.Sleep(time.Millisecond)
						continue
					}
					return err
				}
			}
			var next atomic.Int64
			var wg sync.WaitGroup
			for w := 0; w < 8; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					rng := rand.New(rand.NewSource(int64(w)))
					for i := int(next.Add(1) - 1); i < orders; i = int(next.Add(1) - 1) {
						order := &andromeda.QuotaUsageRequest{QuotaID: "h", Usage: 1, IdempotencyKey: fmt.Sprint("order-", i)}
						err := retry(holds.Reserve, order)
						if errors.Is(err, andromeda.ErrQuotaLimitExceeded) {
							soldOut.Add(1)
							continue
						}
						if err == nil && rng.Intn(10) < 3 {
							err = retry(holds.Cancel, order)
							if err == nil {
								cancelled.Add(1)
							}
						} else if err == nil {
							err = retry(holds.Commit, order)
							if err == nil {
								committed.Add(1)
							}
						}
						if err != nil {
							mu.Lock()
							odd = append(odd, err)
							mu.Unlock()
						}
					}
				}(w)
			}
			wg.Wait()
			rig.proxy.SetDropRate(0)
			usage := rig.usage(t, key)
			t.Logf("committed %d, cancelled %d, sold out %d, usage %d", committed.Load(), cancelled.Load(), soldOut.Load(), usage)
			assert.Empty(t, odd)
			assert.Equal(t, committed.Load(), usage, "usage == units committed")
		})
	}
}
