package andromeda_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// usedMemory reads INFO memory's used_memory.
func usedMemory(b *testing.B, client *redis.Client) int64 {
	info, err := client.Info(context.Background(), "memory").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Fatal("no used_memory in INFO memory")
	return 0
}

// BenchmarkMemory measures what Redis keeps, per op: an idempotency record (a keyed add
// of 1 on one quota, each with its own key, as order IDs "order-<n>"), and a quota (its
// usage with an expiration, and its limit kept with Option.CacheLimit). It reports the
// growth of used_memory per op, and MEMORY USAGE of one key of each kind.
//
//	go test -run '^$' -bench Memory -benchtime 100000x
func BenchmarkMemory(b *testing.B) {
	server := redistest.Standalone(b)
	client := redis.NewClient(&redis.Options{Addr: server.Addr, PoolSize: 64})
	b.Cleanup(func() { client.Close() })
	be := newBackend(b, "redis", client, true)
	ctx := context.Background()

	b.Run("record", func(b *testing.B) {
		db := newQuotaDB()
		db.put("claims", andromeda.MaxAmount, 0)
		add := newAdd(be, db, nil)
		be.set(b, keyOf("claims"), 0)
		before := usedMemory(b, client)
		b.ResetTimer()
		b.SetParallelism(32)
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := add.Do(ctx, idem("claims", 1, fmt.Sprint("order-", n.Add(1)))); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.StopTimer()
		b.ReportMetric(float64(usedMemory(b, client)-before)/float64(b.N), "B/record")
		keys, err := client.Keys(ctx, keyOf("claims")+":*").Result()
		if err != nil || len(keys) == 0 {
			b.Fatalf("no record found: %v", err)
		}
		usage, err := client.MemoryUsage(ctx, keys[0]).Result()
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(usage), "MEMORY-USAGE/record")
	})

	b.Run("quota", func(b *testing.B) {
		db := newQuotaDB()
		add := newAdd(be, db, func(c *andromeda.AddQuotaUsageConfig) {
			c.GetQuotaLimit = andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) { return 1000, nil })
			c.GetQuotaUsage = andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) { return 0, nil })
			c.Option.CacheLimit = true
		})
		before := usedMemory(b, client)
		b.ResetTimer()
		b.SetParallelism(32)
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := add.Do(ctx, req(fmt.Sprint("quota-", n.Add(1)), 1)); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.StopTimer()
		b.ReportMetric(float64(usedMemory(b, client)-before)/float64(b.N), "B/quota")
		usage, err := client.MemoryUsage(ctx, keyOf("quota-1")).Result()
		if err != nil {
			b.Fatal(err)
		}
		limit, err := client.MemoryUsage(ctx, andromeda.LimitKey(keyOf("quota-1"))).Result()
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(usage), "MEMORY-USAGE/usage")
		b.ReportMetric(float64(limit), "MEMORY-USAGE/limit")
	})
}
