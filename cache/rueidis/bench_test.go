package rueidis_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	cache "github.com/ramadani/andromeda/cache/rueidis"
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
)

// BenchmarkHotKey measures, in one run against one standalone server, calls on one hot
// key from 64 goroutines (256 for the coalesced add, its target case): go-redis's and
// rueidis's raw INCRBY, a bare check-and-increment script through rueidis, and
// andromeda's warm add over rueidis, plain and coalesced.
// Compare ns/op within one run only:
//
//	go test -run '^$' -bench HotKey -benchtime=2s -count=3 ./cache/rueidis
func BenchmarkHotKey(b *testing.B) {
	server := redistest.Standalone(b)
	goredis := redis.NewClient(&redis.Options{Addr: server.Addr, PoolSize: 64})
	b.Cleanup(func() { goredis.Close() })
	client := newClient(b, rueidis.ClientOption{InitAddress: []string{server.Addr}})
	const key = "bench:{q}:usage"

	b.Run("go-redis INCRBY/64", func(b *testing.B) {
		parallel(b, 64, func(ctx context.Context) error { return goredis.IncrBy(ctx, key, 1).Err() })
	})
	b.Run("rueidis INCRBY/64", func(b *testing.B) {
		parallel(b, 64, func(ctx context.Context) error {
			return client.Do(ctx, client.B().Incrby().Key(key).Increment(1).Build()).Error()
		})
	})
	bare := rueidis.NewLuaScript(`local usage = tonumber(redis.call('GET', KEYS[1]) or '0')
if usage + tonumber(ARGV[1]) > tonumber(ARGV[2]) then return -1 end
return redis.call('INCRBY', KEYS[1], ARGV[1])`)
	b.Run("rueidis bare Lua check-and-increment/64", func(b *testing.B) {
		parallel(b, 64, func(ctx context.Context) error {
			return bare.Exec(ctx, client, []string{key}, []string{"1", "9007199254740992"}).Error()
		})
	})
	for _, tc := range []struct {
		name       string
		goroutines int
		option     andromeda.AddUsageOption
	}{
		{"andromeda add/64", 64, andromeda.AddUsageOption{}},
		{"andromeda add, coalesced/64", 64, andromeda.AddUsageOption{Coalesce: true}},
		{"andromeda add, coalesced/256", 256, andromeda.AddUsageOption{Coalesce: true}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: cache.New(client),
				GetQuotaLimit:    andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) { return andromeda.MaxAmount, nil }),
				GetQuotaUsageKey: andromeda.GetQuotaKeyFunc(func(context.Context, *andromeda.QuotaRequest) (string, error) { return key, nil }),
				GetQuotaUsageExpiration: andromeda.GetQuotaExpirationFunc(func(context.Context, *andromeda.QuotaRequest) (time.Duration, error) {
					return time.Hour, nil
				}),
				Option: tc.option})
			parallel(b, tc.goroutines, func(ctx context.Context) error {
				_, err := add.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: 1})
				return err
			})
		})
	}
}

// parallel runs op from goroutines goroutines (rounded to a multiple of GOMAXPROCS),
// after one warm-up call.
func parallel(b *testing.B, goroutines int, op func(context.Context) error) {
	ctx := context.Background()
	if err := op(ctx); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(max(1, goroutines/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
