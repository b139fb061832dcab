package andromeda_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ramadani/andromeda"
)

// review6QuotaError is the *QuotaError in err, failing the test when there is none.
func review6QuotaError(t *testing.T, err error, sentinel error) *andromeda.QuotaError {
	t.Helper()
	require.ErrorIs(t, err, sentinel)
	var qerr *andromeda.QuotaError
	require.ErrorAs(t, err, &qerr)
	return qerr
}

// Review 6, a passing probe. The *QuotaError of a refusal carries the right key, limit,
// usage and requested amount at 2^53 on every entry point: add (limit from GetQuotaLimit,
// kept in Redis, replayed from a record), coalesced adds in one batch, reduce, both
// multi-quota calls (the quota that refused) and a reserve.
func TestReview6QuotaErrorValuesAtMaxAmount(t *testing.T) {
	const max = int64(andromeda.MaxAmount)
	eachRealBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		key := "r6e:{x}:usage"
		check := func(t *testing.T, qerr *andromeda.QuotaError, op, key string, requested, limit, usage int64) {
			t.Helper()
			assert.Equal(t, op, qerr.Op)
			assert.Equal(t, "q", qerr.QuotaID)
			assert.Equal(t, key, qerr.Key)
			assert.Equal(t, requested, qerr.Requested, "Requested")
			assert.Equal(t, limit, qerr.Limit, "Limit")
			assert.Equal(t, usage, qerr.Usage, "Usage")
		}

		b.set(t, key, max-1)
		plain := reviewAdd(b, key, func(c *andromeda.AddQuotaUsageConfig) { c.GetQuotaLimit = constLimit(max) })
		_, err := plain.Do(ctx, req("q", 2))
		check(t, review6QuotaError(t, err, andromeda.ErrQuotaLimitExceeded), "add", key, 2, max, max-1)
		_, err = plain.Do(ctx, req("q", max))
		check(t, review6QuotaError(t, err, andromeda.ErrQuotaLimitExceeded), "add", key, max, max, max-1)
		_, err = plain.Do(ctx, keyed(2, "k"))
		check(t, review6QuotaError(t, err, andromeda.ErrQuotaLimitExceeded), "add", key, 2, max, max-1)
		b.set(t, key, 0) // the replay must answer the first outcome
		_, err = plain.Do(ctx, keyed(2, "k"))
		check(t, review6QuotaError(t, err, andromeda.ErrQuotaLimitExceeded), "add", key, 2, max, max-1)

		b.set(t, key, max)
		require.NoError(t, andromeda.SetQuotaLimit(ctx, b.cache, key, max, 0))
		cached := reviewAdd(b, key, func(c *andromeda.AddQuotaUsageConfig) {
			c.GetQuotaLimit = constLimit(5) // not asked: the limit is in Redis
			c.Option.CacheLimit = true
		})
		_, err = cached.Do(ctx, req("q", 1))
		check(t, review6QuotaError(t, err, andromeda.ErrQuotaLimitExceeded), "add", key, 1, max, max)

		// Coalesced: 64 adds of 2^52 at usage 1 and limit 2^53: one fits, and every refusal
		// says the usage it found (1 + 2^52) and the limit.
		b.set(t, key, 1)
		rec, coalesce := coalescing(b)
		hot := reviewAdd(b, key, func(c *andromeda.AddQuotaUsageConfig) {
			c.GetQuotaLimit = constLimit(max)
			coalesce(c)
		})
		var wg sync.WaitGroup
		var mu sync.Mutex
		var admitted int
		start := make(chan struct{})
		for i := 0; i < 64; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				usage, err := hot.Do(ctx, req("q", max/2))
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					admitted++
					assert.Equal(t, max/2+1, usage)
					return
				}
				var qerr *andromeda.QuotaError
				if assert.ErrorAs(t, err, &qerr) && assert.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded) {
					assert.Equal(t, max/2+1, qerr.Usage)
					assert.Equal(t, max, qerr.Limit)
					assert.Equal(t, key, qerr.Key)
					assert.Equal(t, max/2, qerr.Requested)
				}
			}()
		}
		close(start)
		wg.Wait()
		assert.Equal(t, 1, admitted)
		assert.Equal(t, max/2+1, b.get(t, key))
		rec.mu.Lock()
		t.Logf("largest batch %d", rec.largest)
		rec.mu.Unlock()

		b.set(t, key, max-1)
		_, err = reviewReduce(b, key, nil).Do(ctx, req("q", max))
		check(t, review6QuotaError(t, err, andromeda.ErrInvalidMinQuotaUsage), "reduce", key, max, 0, max-1)

		// Several quotas: the second refuses.
		a, c := "r6e:{m}:a", "r6e:{m}:b"
		b.set(t, a, 0)
		b.set(t, c, max-1)
		quotas := []andromeda.Quota{
			{GetQuotaLimit: constLimit(max), GetQuotaUsageKey: constKey(a)},
			{GetQuotaLimit: constLimit(max), GetQuotaUsageKey: constKey(c)},
		}
		_, err = andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: quotas}).Do(ctx, req("q", 2))
		check(t, review6QuotaError(t, err, andromeda.ErrQuotaLimitExceeded), "add", c, 2, max, max-1)
		_, err = andromeda.ReduceMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: quotas}).Do(ctx, req("q", 1))
		check(t, review6QuotaError(t, err, andromeda.ErrInvalidMinQuotaUsage), "reduce", a, 1, 0, 0)

		b.set(t, key, max-1)
		_, err = review6Holds(b, key, max, time.Minute).Reserve.Do(ctx, keyed(2, "h"))
		check(t, review6QuotaError(t, err, andromeda.ErrQuotaLimitExceeded), "reserve", key, 2, max, max-1)
	})
}

// Review 6. The *QuotaError of a value that is not a usage names the usage key of the
// quota that holds it (its Key, "the usage key, when known"), as a refusal of several
// quotas names the quota that refused. AddMultiQuotaUsage and ReduceMultiQuotaUsage put
// the FIRST quota's key there when the second quota's usage is foreign: errors.As gives
// a caller the key of a quota that is fine.
func TestReview6MultiForeignErrorNamesItsQuota(t *testing.T) {
	eachRealBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		a, c := "r6f:{m}:a", "r6f:{m}:b"
		b.set(t, a, 0)
		b.set(t, c, "9007199254740993")
		quotas := []andromeda.Quota{
			{GetQuotaLimit: constLimit(10), GetQuotaUsageKey: constKey(a)},
			{GetQuotaLimit: constLimit(10), GetQuotaUsageKey: constKey(c)},
		}
		for _, u := range []andromeda.UpdateQuotaUsage{
			andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: quotas}),
			andromeda.ReduceMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: quotas}),
		} {
			_, err := u.Do(ctx, req("q", 1))
			qerr := review6QuotaError(t, err, andromeda.ErrInvalidCachedUsage)
			assert.Contains(t, err.Error(), c)
			assert.Equal(t, c, qerr.Key, "the quota whose usage is foreign: %v", err)
		}
	})
}
