package andromeda_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
)

// "When Redis is down: Every call fails closed: nothing is admitted, and the error wraps
// ErrRedisUnavailable (nothing was changed, safe to retry) after about 0.4 s with a
// default go-redis client." TestUnreachableRedisIsATypedError checks a plain add on a
// warm-or-absent key without a loader. Here every entry point, on a cold key with a
// loader (so the first step is the loader's lock), with a default go-redis v9 client and
// every dial refused.
func TestReview9EveryCallFailsClosedWhenRedisIsDown(t *testing.T) {
	rig := newResendRig(t, defaultClientCaches[0].cache)
	db := newQuotaDB()
	db.put("down", 100, 10)
	quota := andromeda.Quota{GetQuotaLimit: db.limit(), GetQuotaUsage: db.usage(), GetQuotaUsageKey: usageKey}
	conf := func(opt andromeda.AddUsageOption) andromeda.AddQuotaUsageConfig {
		return andromeda.AddQuotaUsageConfig{Cache: rig.cache, GetQuotaLimit: db.limit(), GetQuotaUsage: db.usage(), GetQuotaUsageKey: usageKey, Option: opt}
	}
	add := andromeda.AddQuotaUsage(conf(andromeda.AddUsageOption{}))
	cached := andromeda.AddQuotaUsage(conf(andromeda.AddUsageOption{CacheLimit: true, Coalesce: true}))
	reduce := andromeda.ReduceQuotaUsage(andromeda.ReduceQuotaUsageConfig{Cache: rig.cache, GetQuotaUsage: db.usage(), GetQuotaUsageKey: usageKey})
	multi := andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: rig.cache, Quotas: []andromeda.Quota{quota}})
	holds := andromeda.NewQuotaHolds(andromeda.QuotaHoldsConfig{Cache: rig.cache, Quota: quota})
	keyed := func() *andromeda.QuotaUsageRequest {
		return &andromeda.QuotaUsageRequest{QuotaID: "down", Usage: 1, IdempotencyKey: "order-1"}
	}
	calls := []struct {
		name string
		do   func(ctx context.Context) error
	}{
		{"add", func(ctx context.Context) error { _, err := add.Do(ctx, req("down", 1)); return err }},
		{"keyed add", func(ctx context.Context) error { _, err := add.Do(ctx, keyed()); return err }},
		{"coalesced add, limit in Redis", func(ctx context.Context) error { _, err := cached.Do(ctx, req("down", 1)); return err }},
		{"reduce", func(ctx context.Context) error { _, err := reduce.Do(ctx, req("down", 1)); return err }},
		{"keyed reduce", func(ctx context.Context) error { _, err := reduce.Do(ctx, keyed()); return err }},
		{"several quotas", func(ctx context.Context) error { _, err := multi.Do(ctx, req("down", 1)); return err }},
		{"reserve", func(ctx context.Context) error { _, err := holds.Reserve.Do(ctx, keyed()); return err }},
		{"commit", func(ctx context.Context) error { _, err := holds.Commit.Do(ctx, keyed()); return err }},
		{"cancel", func(ctx context.Context) error { _, err := holds.Cancel.Do(ctx, keyed()); return err }},
		{"ReadCachedUsages", func(ctx context.Context) error {
			_, err := andromeda.ReadCachedUsages(ctx, rig.cache, usageKey, []*andromeda.QuotaRequest{{QuotaID: "down"}})
			return err
		}},
		{"ForgetUsage", func(ctx context.Context) error {
			_, _, err := andromeda.ForgetUsage(ctx, rig.cache, keyOf("down"))
			return err
		}},
		{"SetQuotaLimit", func(ctx context.Context) error { return andromeda.SetQuotaLimit(ctx, rig.cache, keyOf("down"), 5, 0) }},
		{"ReleaseExpiredHolds", func(ctx context.Context) error {
			_, _, err := andromeda.ReleaseExpiredHolds(ctx, rig.cache, keyOf("down"))
			return err
		}},
	}
	rig.proxy.Close() // every dial refused from now on
	for _, c := range calls {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		started := time.Now()
		err := c.do(ctx)
		elapsed := time.Since(started)
		cancel()
		var qerr *andromeda.QuotaError
		t.Logf("%-30s %6v  %v", c.name, elapsed.Round(time.Millisecond), err)
		assert.ErrorIs(t, err, andromeda.ErrRedisUnavailable, c.name)
		assert.NotErrorIs(t, err, andromeda.ErrUnknownOutcome, "%s: nothing was sent", c.name)
		if errors.Is(err, andromeda.ErrRedisUnavailable) && !errors.As(err, &qerr) && c.name[0] >= 'a' {
			t.Errorf("%s: not a *QuotaError: %T", c.name, err)
		}
		assert.Less(t, elapsed, 1500*time.Millisecond, "%s fails closed in about 0.4 s", c.name)
	}
	assert.Zero(t, db.loads.Load(), "the loader never ran: Redis could not be asked whether the key exists")
	assert.Zero(t, rig.usage(t, keyOf("down")))
}
