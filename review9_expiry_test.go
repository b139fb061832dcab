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
)

// Guarantee 2 ("A missing key is never taken as zero"), whose test is "a full quota whose
// key expires every 30 ms under 32 busy goroutines admits nothing" for a plain add. Here
// the same full quota goes through every other way in: the limit kept in Redis (its key
// expiring too, every 15 ms), coalesced adds, several quotas at once, and hold reserves;
// and besides expiring, the usage, its limit and the hold buckets are deleted behind the
// library's back all along (an eviction). Nothing may be admitted.
func TestReview9FullQuotaWhoseKeysKeepVanishingAdmitsNothing(t *testing.T) {
	eachRealBackend(t, func(t *testing.T, b backend) {
		const limit = 100
		var loads atomic.Int64
		limitFn := andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) { return limit, nil })
		usageFn := andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) {
			loads.Add(1)
			return limit, nil // every unit is already kept in the database
		})
		userKey := andromeda.GetQuotaKeyFunc(func(_ context.Context, r *andromeda.QuotaRequest) (string, error) {
			return "quota:{" + r.QuotaID + "}:user", nil
		})
		conf := func(opt andromeda.AddUsageOption) andromeda.AddQuotaUsageConfig {
			return andromeda.AddQuotaUsageConfig{
				Cache: b.cache, GetQuotaLimit: limitFn, GetQuotaUsage: usageFn, GetQuotaUsageKey: usageKey,
				GetQuotaUsageExpiration: expireIn(20 * time.Millisecond),
				GetQuotaLimitExpiration: expireIn(15 * time.Millisecond),
				GetQuotaUsageConfig:     andromeda.GetQuotaUsageConfig{LockIn: 200 * time.Millisecond, MaxRetry: 50, RetryIn: 5 * time.Millisecond},
				Option:                  opt,
			}
		}
		cached := andromeda.AddQuotaUsage(conf(andromeda.AddUsageOption{CacheLimit: true}))
		coalesced := andromeda.AddQuotaUsage(conf(andromeda.AddUsageOption{CacheLimit: true, Coalesce: true}))
		multi := andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache,
			GetQuotaUsageConfig: andromeda.GetQuotaUsageConfig{LockIn: 200 * time.Millisecond, MaxRetry: 50, RetryIn: 5 * time.Millisecond},
			Quotas: []andromeda.Quota{
				{GetQuotaLimit: limitFn, GetQuotaUsageKey: userKey}, // the per-user quota first: empty, starts at 0
				{GetQuotaLimit: limitFn, GetQuotaUsage: usageFn, GetQuotaUsageKey: usageKey, GetQuotaUsageExpiration: expireIn(20 * time.Millisecond)},
			}})
		holds := andromeda.NewQuotaHolds(andromeda.QuotaHoldsConfig{Cache: b.cache, HoldFor: time.Minute,
			GetQuotaUsageConfig: andromeda.GetQuotaUsageConfig{LockIn: 200 * time.Millisecond, MaxRetry: 50, RetryIn: 5 * time.Millisecond},
			Quota: andromeda.Quota{GetQuotaLimit: limitFn, GetQuotaUsage: usageFn, GetQuotaUsageKey: usageKey,
				GetQuotaUsageExpiration: expireIn(20 * time.Millisecond)}})

		var seq atomic.Int64
		ways := []struct {
			name string
			do   func(ctx context.Context) error
		}{
			{"add, limit in Redis", func(ctx context.Context) error {
				_, err := cached.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "full", Usage: 1, IdempotencyKey: fmt.Sprint("a", seq.Add(1))})
				return err
			}},
			{"coalesced add", func(ctx context.Context) error { _, err := coalesced.Do(ctx, req("full", 1)); return err }},
			{"several quotas", func(ctx context.Context) error { _, err := multi.Do(ctx, req("full", 1)); return err }},
			{"hold reserve", func(ctx context.Context) error {
				_, err := holds.Reserve.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "full", Usage: 1, IdempotencyKey: fmt.Sprint("h", seq.Add(1))})
				return err
			}},
		}
		var admitted, refused, other atomic.Int64
		var otherErr sync.Map
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for g := 0; g < 32; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				way := ways[g%len(ways)]
				for {
					select {
					case <-stop:
						return
					default:
					}
					ctx, cancel := context.WithTimeout(context.Background(), time.Second)
					err := way.do(ctx)
					cancel()
					switch {
					case err == nil:
						admitted.Add(1)
						t.Errorf("%s admitted a unit on a full quota", way.name)
					case errors.Is(err, andromeda.ErrQuotaLimitExceeded):
						refused.Add(1)
					default:
						other.Add(1)
						otherErr.Store(way.name+": "+err.Error(), true)
					}
				}
			}(g)
		}
		// An eviction behind the library's back, besides the expirations.
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for {
				select {
				case <-stop:
					return
				case <-time.After(7 * time.Millisecond):
				}
				b.client.Del(ctx, keyOf("full"))
				b.client.Del(ctx, andromeda.LimitKey(keyOf("full")))
				b.client.Del(ctx, "quota:{full}:hold-buckets")
			}
		}()
		time.Sleep(1500 * time.Millisecond)
		close(stop)
		wg.Wait()
		n := 0
		otherErr.Range(func(k, _ any) bool {
			if n < 5 {
				t.Logf("other error: %v", k)
			}
			n++
			return true
		})
		t.Logf("admitted %d, refused %d, other errors %d, usage loads %d", admitted.Load(), refused.Load(), other.Load(), loads.Load())
		assert.Zero(t, admitted.Load(), "admitted on a full quota")
		assert.Greater(t, loads.Load(), int64(10), "the keys really vanished and were reloaded")
		assert.Greater(t, refused.Load(), int64(100))
	})
}
