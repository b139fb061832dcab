package andromeda_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// evalshaStats reads the calls and usec_per_call of EVALSHA from INFO commandstats.
func evalshaStats(b *testing.B, client *redis.Client) (int64, float64) {
	info, err := client.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_evalsha:")
		if !ok {
			continue
		}
		var calls int64
		var usec float64
		for _, field := range strings.Split(rest, ",") {
			name, value, _ := strings.Cut(field, "=")
			switch name {
			case "calls":
				calls, _ = strconv.ParseInt(value, 10, 64)
			case "usec_per_call":
				usec, _ = strconv.ParseFloat(value, 64)
			}
		}
		return calls, usec
	}
	return 0, 0
}

// measureServer runs op from 64 goroutines (GOMAXPROCS x 32) and reports Redis's own time
// per script call (server-µs/call) and script calls per op, besides ns/op.
func measureServer(b *testing.B, client *redis.Client, op func(rng *rand.Rand) error) {
	if err := client.ConfigResetStat(context.Background()).Err(); err != nil {
		b.Fatal(err)
	}
	var seed atomic.Uint64
	b.ReportAllocs()
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(seed.Add(1), 42))
		for pb.Next() {
			if err := op(rng); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	calls, usec := evalshaStats(b, client)
	b.ReportMetric(usec, "server-µs/call")
	b.ReportMetric(float64(calls)/float64(b.N), "calls/op")
}

// BenchmarkAddSpread: adds of 1 spread at random over 1, 100, 10,000 or 1,000,000 quotas,
// plain, coalesced (Option.Coalesce) and keyed (an IdempotencyKey per add), on one real
// redis-server. Quotas are created by their first add; every key expires after a minute.
//
//	go test -run '^$' -bench AddSpread -benchtime 20000x
func BenchmarkAddSpread(b *testing.B) {
	server := redistest.Standalone(b)
	client := redis.NewClient(&redis.Options{Addr: server.Addr, PoolSize: 64})
	b.Cleanup(func() { client.Close() })
	cache := newBackend(b, "redis", client, true).cache
	limit := andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) { return andromeda.MaxAmount, nil })
	newAdd := func(option andromeda.AddUsageOption) andromeda.UpdateQuotaUsage {
		option.IdempotencyRetention = time.Minute
		return andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: cache, GetQuotaLimit: limit, GetQuotaUsageKey: usageKey,
			GetQuotaUsageExpiration: expireIn(time.Minute), Option: option})
	}
	modes := []struct {
		name  string
		add   andromeda.UpdateQuotaUsage
		keyed bool
	}{
		{"plain", newAdd(andromeda.AddUsageOption{}), false},
		{"coalesced", newAdd(andromeda.AddUsageOption{Coalesce: true}), false},
		{"keyed", newAdd(andromeda.AddUsageOption{}), true},
	}
	var orders atomic.Int64
	for _, quotas := range []int{1, 100, 10_000, 1_000_000} {
		ids := make([]string, quotas)
		for i := range ids {
			ids[i] = fmt.Sprint("spread-", i)
		}
		for _, m := range modes {
			b.Run(fmt.Sprintf("quotas-%d/%s", quotas, m.name), func(b *testing.B) {
				measureServer(b, client, func(rng *rand.Rand) error {
					r := &andromeda.QuotaUsageRequest{QuotaID: ids[rng.IntN(quotas)], Usage: 1}
					if m.keyed {
						r.IdempotencyKey = fmt.Sprint("order-", orders.Add(1))
					}
					_, err := m.add.Do(context.Background(), r)
					return err
				})
			})
		}
	}
}

// BenchmarkAddWithHolds: a warm add on a quota that has 0, 10,000 or 100,000 live holds
// (every usage script releases the expired ones first, so this is what holds cost an add
// while none expire).
//
//	go test -run '^$' -bench AddWithHolds -benchtime 20000x
func BenchmarkAddWithHolds(b *testing.B) {
	server := redistest.Standalone(b)
	client := redis.NewClient(&redis.Options{Addr: server.Addr, PoolSize: 64})
	b.Cleanup(func() { client.Close() })
	be := newBackend(b, "redis", client, true)
	for _, holds := range []int{0, 10_000, 100_000} {
		b.Run(fmt.Sprint("holds-", holds), func(b *testing.B) {
			quota := fmt.Sprint("held-", holds)
			db := newQuotaDB()
			db.put(quota, andromeda.MaxAmount, 0)
			add := newAdd(be, db, nil)
			be.set(b, keyOf(quota), 0)
			reservePipelined(b, be, keyOf(quota), holds, time.Hour)
			r := req(quota, 1)
			measureServer(b, client, func(*rand.Rand) error {
				_, err := add.Do(context.Background(), r)
				return err
			})
		})
	}
}
