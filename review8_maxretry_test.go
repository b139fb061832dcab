package andromeda_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
)

// README, configuration: "GetQuotaUsageConfig.MaxRetry | loads after which a usage found
// missing again (evicted at once) is given up"; Guarantee 2: "A usage found missing again
// after MaxRetry loads is given up."
//
// retryMissing counts every load of the Do against MaxRetry, whatever key it filled. A cold
// quota with Option.CacheLimit needs two loads (the limit, then the usage), neither found
// missing AGAIN; with MaxRetry 1 the first Do on every cold quota fails with
// ErrMaxRetryExceeded and ErrQuotaNotFound (the quota exists), having loaded the limit.
func TestReview8MaxRetryCountsLoadsOfOtherKeys(t *testing.T) {
	b := standaloneBackend(t)
	db := newQuotaDB()
	db.put("c1", 10, 4)
	add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) {
		c.Option.CacheLimit = true
		c.GetQuotaUsageConfig = andromeda.GetQuotaUsageConfig{LockIn: time.Second, MaxRetry: 1, RetryIn: 10 * time.Millisecond}
	})
	usage, err := add.Do(context.Background(), req("c1", 1))
	t.Logf("first Do on a cold quota: usage %d, err %v (usage loads %d)", usage, err, db.loads.Load())
	assert.NoError(t, err, "nothing was found missing again: one load of the limit, one of the usage")
	assert.False(t, errors.Is(err, andromeda.ErrQuotaNotFound), "the quota exists")
	assert.Equal(t, int64(5), usage)
}

// The same with several quotas: a campaign and a user quota, each with its loader, both
// cold. Each is loaded once; with MaxRetry 1 the Do fails after loading the first.
func TestReview8MaxRetryCountsLoadsOfOtherQuotas(t *testing.T) {
	b := standaloneBackend(t)
	db := newQuotaDB()
	db.put("camp", 10, 4)
	db.put("user", 2, 0)
	key := func(id string) andromeda.GetQuotaKey {
		return andromeda.GetQuotaKeyFunc(func(context.Context, *andromeda.QuotaRequest) (string, error) {
			return "{m8}:" + id, nil
		})
	}
	byID := func(id string, get func(*quotaDB) andromeda.GetQuota) andromeda.GetQuota {
		return andromeda.GetQuotaFunc(func(ctx context.Context, _ *andromeda.QuotaRequest) (int64, error) {
			return get(db).Do(ctx, &andromeda.QuotaRequest{QuotaID: id})
		})
	}
	claim := andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{
		Cache: b.cache,
		Quotas: []andromeda.Quota{
			{GetQuotaLimit: byID("camp", (*quotaDB).limit), GetQuotaUsage: byID("camp", (*quotaDB).usage), GetQuotaUsageKey: key("camp")},
			{GetQuotaLimit: byID("user", (*quotaDB).limit), GetQuotaUsage: byID("user", (*quotaDB).usage), GetQuotaUsageKey: key("user")},
		},
		GetQuotaUsageConfig: andromeda.GetQuotaUsageConfig{LockIn: time.Second, MaxRetry: 1, RetryIn: 10 * time.Millisecond},
	})
	usage, err := claim.Do(context.Background(), req("x", 1))
	t.Logf("first Do on two cold quotas: usage %d, err %v (loads %d)", usage, err, db.loads.Load())
	assert.NoError(t, err, "each quota loaded once, none found missing again")
	assert.Equal(t, int64(5), usage)
}
