package andromeda_test

import (
	"context"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// oddKeys are usage keys a user may pass that hold a "}" but no hash tag, beside ordinary
// ones: the keys kept beside them (limit, idempotency records, holds, loader lock) must
// still share their cluster hash slot.
var oddKeys = []string{"a}b", "}", "{}x", "x}{y", "}{}", "{}", "a{b}c}d", "{a", "plain-key", "{tag}usage"}

func TestOddKeysWorkOnACluster(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		for _, key := range oddKeys {
			t.Run(key, func(t *testing.T) {
				if b.real {
					want, err := b.client.ClusterKeySlot(ctx, key).Result()
					if err == nil { // a standalone server has no CLUSTER command
						got, err := b.client.ClusterKeySlot(ctx, andromeda.LimitKey(key)).Result()
						require.NoError(t, err)
						assert.Equal(t, want, got, "LimitKey(%q) = %q", key, andromeda.LimitKey(key))
					}
				}
				keyFunc := andromeda.GetQuotaKeyFunc(func(context.Context, *andromeda.QuotaRequest) (string, error) { return key, nil })
				db := newQuotaDB()
				db.put("q", 3, 0)
				add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{
					Cache: b.cache, GetQuotaLimit: db.limit(), GetQuotaUsage: db.usage(),
					GetQuotaUsageKey: keyFunc, GetQuotaUsageConfig: fastRetry,
					Option: andromeda.AddUsageOption{CacheLimit: true},
				})
				reduce := andromeda.ReduceQuotaUsage(andromeda.ReduceQuotaUsageConfig{
					Cache: b.cache, GetQuotaUsage: db.usage(), GetQuotaUsageKey: keyFunc, GetQuotaUsageConfig: fastRetry,
				})
				holds := andromeda.NewQuotaHolds(andromeda.QuotaHoldsConfig{
					Cache: b.cache,
					Quota: andromeda.Quota{
						GetQuotaLimit:    db.limit(),
						GetQuotaUsage:    db.usage(),
						GetQuotaUsageKey: keyFunc,
					},
					GetQuotaUsageConfig: fastRetry,
					HoldFor:             time.Minute,
				})

				claim := &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: 1, IdempotencyKey: "order-1"}
				for range 2 { // the repeat replays
					usage, err := add.Do(ctx, claim)
					require.NoError(t, err)
					assert.Equal(t, int64(1), usage)
				}
				usage, err := reduce.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: 1, IdempotencyKey: "refund-1"})
				require.NoError(t, err)
				assert.Equal(t, int64(0), usage)

				hold := &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: 2, IdempotencyKey: "hold-1"}
				_, err = holds.Reserve.Do(ctx, hold)
				require.NoError(t, err)
				usage, err = holds.Commit.Do(ctx, hold)
				require.NoError(t, err)
				assert.Equal(t, int64(2), usage)
				assert.Equal(t, int64(2), b.get(t, key))

				_, err = add.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: 2})
				require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded, "limit 3 read from %q", andromeda.LimitKey(key))
				b.flush(t)
			})
		}
	})
}
