package redisv9_test

import (
	"context"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/redisv9"
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/ramadani/andromeda/internal/scripts"
	"github.com/ramadani/andromeda/internal/storetypes"
	"github.com/redis/go-redis/v9"
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
	benchAdds(b, storeOver(redisv9.New(client)))
}

// BenchmarkAddUsageWaitForReplicas compares, in one run against one primary with one
// replica, adds without WAIT and with WAIT 1 100 pipelined after each.
func BenchmarkAddUsageWaitForReplicas(b *testing.B) {
	primary := primaryWithReplica(b)
	client := redis.NewClient(&redis.Options{Addr: primary.Addr, PoolSize: 64})
	defer client.Close()
	b.Run("without", func(b *testing.B) { benchAdds(b, storeOver(redisv9.New(client))) })
	b.Run("WaitForReplicas(1,100ms)", func(b *testing.B) {
		benchAdds(b, storeOver(redisv9.New(client, redisv9.WaitForReplicas(1, 100*time.Millisecond))))
	})
}

// hotKey is the key the hot-key benchmarks add to.
const hotKey = "{hot}:usage"

// hotKeyAdds returns the two ways of adding 1 to hotKey that BenchmarkHotKeyAdd compares:
// a bare go-redis EvalSha of add.lua with the keys and arguments andromeda sends for an
// add without idempotency key, and an add through andromeda's public API over redisv9.
func hotKeyAdds(b *testing.B, client *redis.Client) (evalSHA, andromedaAdd func(context.Context) error) {
	buckets, _ := andromeda.HoldKeys(hotKey, "")
	add := andromeda.NewScript(scripts.Add)
	if err := client.ScriptLoad(context.Background(), add.Source()).Err(); err != nil {
		b.Fatal(err)
	}
	keys := []string{hotKey, buckets}
	evalSHA = func(ctx context.Context) error {
		// amount, limit, absent (0: create, no expiry), no limit key, no record, mode, attempt
		return client.EvalSha(ctx, add.SHA1(), keys, 1, int64(1<<50), 0, 0, 0, 0, "").Err()
	}
	do := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{
		Cache:            redisv9.New(client),
		GetQuotaLimit:    andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) { return 1 << 50, nil }),
		GetQuotaUsageKey: andromeda.GetQuotaKeyFunc(func(context.Context, *andromeda.QuotaRequest) (string, error) { return hotKey, nil }),
	})
	andromedaAdd = func(ctx context.Context) error {
		_, err := do.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "hot", Usage: 1})
		return err
	}
	return evalSHA, andromedaAdd
}

// BenchmarkHotKeyAdd compares, in one run on one standalone server, an add of 1 to one
// hot key from 64 goroutines through andromeda (AddQuotaUsage over redisv9) with a bare
// go-redis EvalSha of the same script, keys and arguments: the library's cost over the
// client's own call (issue 13: at least 0.95x, allocations within 4).
func BenchmarkHotKeyAdd(b *testing.B) {
	server := redistest.Standalone(b)
	client := redis.NewClient(&redis.Options{Addr: server.Addr, PoolSize: 64})
	defer client.Close()
	evalSHA, andromedaAdd := hotKeyAdds(b, client)
	b.Run("go-redis-EvalSha", func(b *testing.B) { parallelOps(b, evalSHA) })
	b.Run("andromeda-AddQuotaUsage", func(b *testing.B) { parallelOps(b, andromedaAdd) })
}

// BenchmarkHotKeyAddRatio runs the two adds of BenchmarkHotKeyAdd in alternating rounds
// (each first every other round) of 2048 ops from 64 goroutines, so that both see the same machine load, and reports
// andromeda's throughput as a fraction of EvalSha's (x-of-EvalSha).
func BenchmarkHotKeyAddRatio(b *testing.B) {
	server := redistest.Standalone(b)
	client := redis.NewClient(&redis.Options{Addr: server.Addr, PoolSize: 64})
	defer client.Close()
	evalSHA, andromedaAdd := hotKeyAdds(b, client)
	const round = 2048
	var took [2]time.Duration
	ops := []func(context.Context) error{evalSHA, andromedaAdd}
	for done := 0; done < b.N; done += round {
		for j := range ops {
			i := (j + done/round) % 2 // each goes first every other round
			start := time.Now()
			concurrently(b, round, ops[i])
			took[i] += time.Since(start)
		}
	}
	b.ReportMetric(float64(took[0])/float64(took[1]), "x-of-EvalSha")
}

// concurrently runs op n times from 64 goroutines.
func concurrently(b *testing.B, n int, op func(context.Context) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				if err := op(context.Background()); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// parallelOps runs op from 64 goroutines, b.N times in all, reporting allocations.
func parallelOps(b *testing.B, op func(context.Context) error) {
	b.ReportAllocs()
	b.SetParallelism(64 / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if err := op(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
