package andromeda_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/redisv9"
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Guarantee 7 ("One round trip for an add or a reduce on a warm key: a single EVALSHA")
// for the configurations the README recommends, not only the bare add and reduce that
// TestWarmKeyIsOneRoundTrip checks: keyed adds and reduces (every example gives every
// change a key), the limit kept in Redis, coalescing, several quotas, a quota with open
// holds, and the compensating reduce of a keyed claim. Also: a warm add with the limit in
// Redis and a warm reduce ask the database nothing.
func TestReview9WarmChangesAreOneRoundTripInEveryConfiguration(t *testing.T) {
	for _, topo := range []string{"standalone", "cluster"} {
		t.Run(topo, func(t *testing.T) {
			var client redis.UniversalClient
			if topo == "standalone" {
				client = redis.NewClient(&redis.Options{Addr: redistest.Standalone(t).Addr})
			} else {
				client = redis.NewClusterClient(&redis.ClusterOptions{Addrs: sharedCluster.Get(t).Addrs()})
			}
			defer client.Close()
			log := &commandLog{}
			if cc, ok := client.(*redis.ClusterClient); ok {
				cc.OnNewNode(func(n *redis.Client) { n.AddHook(log) })
				require.NoError(t, cc.ForEachShard(context.Background(), func(ctx context.Context, n *redis.Client) error { return nil }))
			} else {
				client.AddHook(log)
			}
			cache := redisv9.New(client)
			ctx := context.Background()
			var limitCalls, usageCalls atomic.Int64
			limit := andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) {
				limitCalls.Add(1)
				return 1 << 30, nil
			})
			usage := andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) {
				usageCalls.Add(1)
				return 10, nil
			})
			key := func(suffix string) andromeda.GetQuotaKey {
				return andromeda.GetQuotaKeyFunc(func(_ context.Context, r *andromeda.QuotaRequest) (string, error) {
					return "{rt-" + r.QuotaID + "}:" + suffix, nil
				})
			}
			addConf := func(opt andromeda.AddUsageOption) andromeda.AddQuotaUsageConfig {
				return andromeda.AddQuotaUsageConfig{Cache: cache, GetQuotaLimit: limit, GetQuotaUsage: usage,
					GetQuotaUsageKey: key("usage"), GetQuotaUsageExpiration: expireIn(time.Hour), Option: opt}
			}
			reduce := andromeda.ReduceQuotaUsage(andromeda.ReduceQuotaUsageConfig{Cache: cache, GetQuotaLimit: limit,
				GetQuotaUsage: usage, GetQuotaUsageKey: key("usage"), GetQuotaUsageExpiration: expireIn(time.Hour)})
			plain := andromeda.AddQuotaUsage(addConf(andromeda.AddUsageOption{}))
			cached := andromeda.AddQuotaUsage(addConf(andromeda.AddUsageOption{CacheLimit: true}))
			coalesced := andromeda.AddQuotaUsage(addConf(andromeda.AddUsageOption{CacheLimit: true, Coalesce: true}))
			multi := andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: cache, Quotas: []andromeda.Quota{
				{GetQuotaLimit: limit, GetQuotaUsage: usage, GetQuotaUsageKey: key("usage")},
				{GetQuotaLimit: limit, GetQuotaUsageKey: key("user")},
			}})
			multiReduce := andromeda.ReduceMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: cache, Quotas: []andromeda.Quota{
				{GetQuotaLimit: limit, GetQuotaUsage: usage, GetQuotaUsageKey: key("usage")},
				{GetQuotaLimit: limit, GetQuotaUsageKey: key("user")},
			}})
			holds := andromeda.NewQuotaHolds(andromeda.QuotaHoldsConfig{Cache: cache, HoldFor: time.Hour,
				Quota: andromeda.Quota{GetQuotaLimit: limit, GetQuotaUsage: usage, GetQuotaUsageKey: key("usage")}})

			var seq atomic.Int64
			keyed := func(id string) *andromeda.QuotaUsageRequest {
				return &andromeda.QuotaUsageRequest{QuotaID: id, Usage: 1, IdempotencyKey: fmt.Sprint("k", seq.Add(1))}
			}
			cases := []struct {
				name string
				do   func(id string) error
			}{
				{"plain add", func(id string) error { _, err := plain.Do(ctx, req(id, 1)); return err }},
				{"keyed add", func(id string) error { _, err := plain.Do(ctx, keyed(id)); return err }},
				{"add, limit in Redis", func(id string) error { _, err := cached.Do(ctx, req(id, 1)); return err }},
				{"keyed add, limit in Redis", func(id string) error { _, err := cached.Do(ctx, keyed(id)); return err }},
				{"coalesced keyed add, limit in Redis", func(id string) error { _, err := coalesced.Do(ctx, keyed(id)); return err }},
				{"plain reduce", func(id string) error { _, err := reduce.Do(ctx, req(id, 1)); return err }},
				{"keyed reduce", func(id string) error { _, err := reduce.Do(ctx, keyed(id)); return err }},
				{"compensating reduce of a keyed add", func(id string) error {
					r := keyed(id)
					if _, err := cached.Do(ctx, r); err != nil {
						return err
					}
					log.take()
					_, err := reduce.Do(ctx, r)
					return err
				}},
				{"several quotas", func(id string) error { _, err := multi.Do(ctx, req(id, 1)); return err }},
				{"several quotas, reduce", func(id string) error {
					if _, err := multi.Do(ctx, req(id, 1)); err != nil {
						return err
					}
					log.take()
					_, err := multiReduce.Do(ctx, req(id, 1))
					return err
				}},
			}
			for _, withHolds := range []bool{false, true} {
				for _, c := range cases {
					id := strings.ReplaceAll(c.name, " ", "-")
					if withHolds {
						id += "-held"
					}
					// Warm up: the keys, the limit kept in Redis and the scripts are loaded.
					for i := 0; i < 2; i++ {
						require.NoError(t, c.do(id), c.name)
					}
					if withHolds {
						_, err := holds.Reserve.Do(ctx, keyed(id))
						require.NoError(t, err)
						require.NoError(t, c.do(id), c.name)
					}
					log.take()
					limits, usages := limitCalls.Load(), usageCalls.Load()
					require.NoError(t, c.do(id), c.name)
					var sent []string
					for _, name := range log.take() {
						if name != "cluster" && name != "hello" && name != "ping" {
							sent = append(sent, name)
						}
					}
					assert.Equal(t, []string{"evalsha"}, sent, "%s (holds open: %v)", c.name, withHolds)
					assert.Equal(t, usages, usageCalls.Load(), "%s: the usage loader on a warm key", c.name)
					if strings.Contains(c.name, "limit in Redis") || c.name == "plain reduce" || c.name == "keyed reduce" {
						assert.Equal(t, limits, limitCalls.Load(), "%s: the limit loader on a warm key", c.name)
					}
				}
			}
		})
	}
}
