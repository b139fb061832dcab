package redisv8_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-redis/redis/v8"
	"github.com/ramadani/andromeda/cache/redisv8"
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/ramadani/andromeda/internal/storetypes"
)

// benchAdds runs warm adds of 1 to a few keys from 16 goroutines per core.
func benchAdds(b *testing.B, cache usageStore) {
	ctx := context.Background()
	var n atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		key := "bench-" + strconv.FormatInt(n.Add(1)%8, 10)
		for pb.Next() {
			if _, err := cache.AddUsage(ctx, storetypes.AddUsageArgs{Key: key, Amount: 1, Limit: 1 << 50, CreateMissing: true}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkAddUsage is one warm add on a standalone server: EVALSHA sent at most once.
func BenchmarkAddUsage(b *testing.B) {
	server := redistest.Standalone(b)
	client := redis.NewClient(&redis.Options{Addr: server.Addr, PoolSize: 64})
	defer client.Close()
	benchAdds(b, storeOver(redisv8.New(client)))
}

// BenchmarkAddUsageWaitForReplicas compares, in one run against one primary with one
// replica, adds without WAIT and with WAIT 1 100 pipelined after each.
func BenchmarkAddUsageWaitForReplicas(b *testing.B) {
	primary := primaryWithReplica(b)
	client := redis.NewClient(&redis.Options{Addr: primary.Addr, PoolSize: 64})
	defer client.Close()
	b.Run("without", func(b *testing.B) { benchAdds(b, storeOver(redisv8.New(client))) })
	b.Run("WaitForReplicas(1,100ms)", func(b *testing.B) {
		benchAdds(b, storeOver(redisv8.New(client, redisv8.WaitForReplicas(1, 100*time.Millisecond))))
	})
}
