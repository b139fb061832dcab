package andromeda_test

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/ramadani/andromeda"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// notUsages are values someone else may have written at a usage key: none is a usage.
var notUsages = []string{"-5", "-0", "05", "+1", " 1", "1.0", "9007199254740993"}

// A stored "-5" used to be trusted: 15 adds were admitted against a limit of 10. Now
// every value that is not a usage, and every key of another type, gives an error wrapping
// ErrInvalidCachedUsage that names the key and what it holds, and changes nothing: not
// the value, not an idempotency record.
func TestForeignValuesAreReportedNotTrusted(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		db := newQuotaDB()
		db.put("q", 10, 0)
		add, reduce := newAdd(b, db, nil), newReduce(b, db, nil)
		coalesced := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) { c.Option.Coalesce = true })
		cachedLimit := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) { c.Option.CacheLimit = true })
		key := keyOf("q")
		recordKeys := func() []string { return b.keys(t, "*idempotency*") }
		check := func(err error, holds string) {
			t.Helper()
			require.ErrorIs(t, err, andromeda.ErrInvalidCachedUsage)
			assert.Contains(t, err.Error(), strconv.Quote(key))
			assert.Contains(t, err.Error(), holds)
		}
		for _, raw := range notUsages {
			b.flush(t)
			b.set(t, key, raw)
			for _, u := range []andromeda.UpdateQuotaUsage{add, reduce, coalesced, cachedLimit} {
				_, err := u.Do(ctx, req("q", 1))
				check(err, strconv.Quote(raw))
				_, err = u.Do(ctx, idem("q", 1, "order-1"))
				check(err, strconv.Quote(raw))
			}
			assert.Equal(t, raw, b.client.Get(ctx, key).Val())
			assert.Empty(t, recordKeys(), "no idempotency record for %q", raw)
			_, err := andromeda.ReadCachedUsages(ctx, b.cache, usageKey, []*andromeda.QuotaRequest{{QuotaID: "q"}})
			check(err, strconv.Quote(raw))
		}

		// Keys of another type: a raw WRONGTYPE before.
		for _, typ := range []string{"hash", "list"} {
			b.flush(t)
			if typ == "hash" {
				require.NoError(t, b.client.HSet(ctx, key, "f", "1").Err())
			} else {
				require.NoError(t, b.client.RPush(ctx, key, "1").Err())
			}
			for _, u := range []andromeda.UpdateQuotaUsage{add, reduce, coalesced, cachedLimit} {
				_, err := u.Do(ctx, req("q", 1))
				check(err, "a "+typ)
				_, err = u.Do(ctx, idem("q", 1, "order-1"))
				check(err, "a "+typ)
			}
			assert.Equal(t, typ, b.client.Type(ctx, key).Val())
			assert.Empty(t, recordKeys())
			_, _, err := storeOf(b.cache).GetUsage(ctx, key)
			check(err, "WRONGTYPE")
		}
	})
}

// The same for a limit kept in Redis (Option.CacheLimit) and for several quotas at once.
func TestForeignLimitsAndMultiQuotaValues(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		db := newQuotaDB()
		db.put("q", 10, 0)
		add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) { c.Option.CacheLimit = true })
		limitKey := andromeda.LimitKey(keyOf("q"))
		for _, raw := range append(notUsages, "hash") {
			b.flush(t)
			b.set(t, keyOf("q"), 3)
			holds := strconv.Quote(raw)
			if raw == "hash" {
				require.NoError(t, b.client.HSet(ctx, limitKey, "f", "1").Err())
				holds = "a hash"
			} else {
				b.set(t, limitKey, raw)
			}
			_, err := add.Do(ctx, req("q", 1))
			require.ErrorIs(t, err, andromeda.ErrInvalidCachedUsage, raw)
			assert.Contains(t, err.Error(), strconv.Quote(limitKey))
			assert.Contains(t, err.Error(), holds)
			assert.Equal(t, int64(3), b.get(t, keyOf("q")))
		}

		claim := andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: campaignQuotas(50, 2, db), GetQuotaUsageConfig: fastRetry})
		unclaim := andromeda.ReduceMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: campaignQuotas(50, 2, db), GetQuotaUsageConfig: fastRetry})
		ann := &andromeda.QuotaUsageRequest{QuotaID: "campaign-42", Usage: 1, Data: "ann"}
		for _, raw := range append(notUsages, "list") {
			b.flush(t)
			b.set(t, "{campaign-42}:usage", 5)
			if raw == "list" {
				require.NoError(t, b.client.RPush(ctx, "{campaign-42}:user:ann", "1").Err())
			} else {
				b.set(t, "{campaign-42}:user:ann", raw)
			}
			for _, u := range []andromeda.UpdateQuotaUsage{claim, unclaim} {
				_, err := u.Do(ctx, ann)
				require.ErrorIs(t, err, andromeda.ErrInvalidCachedUsage, raw)
				assert.Contains(t, err.Error(), `"{campaign-42}:user:ann"`)
			}
			assert.Equal(t, int64(5), b.get(t, "{campaign-42}:usage"))
		}
	})
}

// A stored "-5" with a limit of 10: before, 15 adds of 1 were admitted.
func TestNegativeUsageIsNotTrusted(t *testing.T) {
	b := miniredisBackend(t)
	db := newQuotaDB()
	db.put("q", 10, 0)
	add := newAdd(b, db, nil)
	b.set(t, keyOf("q"), "-5")
	admitted := 0
	for i := 0; i < 15; i++ {
		if _, err := add.Do(context.Background(), req("q", 1)); err == nil {
			admitted++
		} else {
			require.ErrorIs(t, err, andromeda.ErrInvalidCachedUsage)
		}
	}
	assert.Zero(t, admitted)
	assert.Equal(t, int64(-5), b.get(t, keyOf("q")))
}

// keys lists the keys matching pattern, on every master of a cluster.
func (b backend) keys(t testing.TB, pattern string) []string {
	t.Helper()
	ctx := context.Background()
	c, ok := b.client.(*redis.ClusterClient)
	if !ok {
		keys, err := b.client.Keys(ctx, pattern).Result()
		require.NoError(t, err)
		return keys
	}
	var mu sync.Mutex
	var all []string
	require.NoError(t, c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		keys, err := m.Keys(ctx, pattern).Result()
		mu.Lock()
		all = append(all, keys...)
		mu.Unlock()
		return err
	}))
	return all
}
