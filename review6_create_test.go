package andromeda_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ramadani/andromeda"
)

// Review 6, a passing probe. Keys the change itself creates (no GetQuotaUsage: a missing
// usage starts at 0), with amounts that sum past 2^53: a plain add of 2^53, 64 concurrent
// coalesced adds of 2^52 (exactly two fit), several quotas, a reserve of 2^53. Each
// stores the exact number, with the expiration asked for, and refuses what passes 2^53.
func TestReview6CreatedKeysAtMaxAmount(t *testing.T) {
	const max = int64(andromeda.MaxAmount)
	eachRealBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		create := func(key string, coalesce bool) andromeda.UpdateQuotaUsage {
			return reviewAdd(b, key, func(c *andromeda.AddQuotaUsageConfig) {
				c.GetQuotaLimit, c.GetQuotaUsageExpiration, c.Option.Coalesce = constLimit(max), expireIn(time.Hour), coalesce
			})
		}
		ttlOK := func(key string) {
			ttl := b.client.PTTL(ctx, key).Val()
			assert.True(t, ttl > 59*time.Minute && ttl <= time.Hour, "%s TTL %v", key, ttl)
		}

		usage, err := create("r6c:{a}", false).Do(ctx, req("q", max))
		require.NoError(t, err)
		assert.Equal(t, max, usage)
		assert.Equal(t, "9007199254740992", b.client.Get(ctx, "r6c:{a}").Val())
		ttlOK("r6c:{a}")
		_, err = create("r6c:{a}", false).Do(ctx, req("q", 1))
		assert.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded)

		hot := create("r6c:{b}", true)
		var wg sync.WaitGroup
		var mu sync.Mutex
		admitted, refused := 0, 0
		start := make(chan struct{})
		for i := 0; i < 64; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := hot.Do(ctx, req("q", max/2))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					admitted++
				case errors.Is(err, andromeda.ErrQuotaLimitExceeded):
					refused++
				default:
					t.Error(err)
				}
			}()
		}
		close(start)
		wg.Wait()
		assert.Equal(t, 2, admitted)
		assert.Equal(t, 62, refused)
		assert.Equal(t, "9007199254740992", b.client.Get(ctx, "r6c:{b}").Val())
		ttlOK("r6c:{b}")

		quotas := []andromeda.Quota{
			{GetQuotaLimit: constLimit(max), GetQuotaUsageKey: constKey("r6c:{m}:a"), GetQuotaUsageExpiration: expireIn(time.Hour)},
			{GetQuotaLimit: constLimit(max), GetQuotaUsageKey: constKey("r6c:{m}:b")},
		}
		multi := andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: quotas})
		usage, err = multi.Do(ctx, req("q", max))
		require.NoError(t, err)
		assert.Equal(t, max, usage)
		assert.Equal(t, "9007199254740992", b.client.Get(ctx, "r6c:{m}:b").Val())
		ttlOK("r6c:{m}:a")
		assert.Equal(t, time.Duration(-1), b.client.TTL(ctx, "r6c:{m}:b").Val())
		_, err = multi.Do(ctx, req("q", 1))
		assert.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded)

		holds := andromeda.NewQuotaHolds(andromeda.QuotaHoldsConfig{Cache: b.cache, HoldFor: time.Hour,
			Quota: andromeda.Quota{GetQuotaLimit: constLimit(max), GetQuotaUsageKey: constKey("r6c:{h}"), GetQuotaUsageExpiration: expireIn(time.Hour)}})
		usage, err = holds.Reserve.Do(ctx, keyed(max, "all"))
		require.NoError(t, err)
		assert.Equal(t, max, usage)
		ttlOK("r6c:{h}")
		_, err = holds.Reserve.Do(ctx, keyed(1, "one"))
		assert.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded)
		usage, err = holds.Commit.Do(ctx, keyed(0, "all"))
		require.NoError(t, err)
		assert.Equal(t, max, usage)
		read, err := andromeda.ReadCachedUsages(ctx, b.cache, constKey("r6c:{h}"), []*andromeda.QuotaRequest{{QuotaID: "q"}})
		require.NoError(t, err)
		assert.Equal(t, max, read[0].Usage)
		assert.Zero(t, read[0].Held)
	})
}
