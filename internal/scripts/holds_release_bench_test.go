package scripts

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// BenchmarkWarmAddHoldsRelease measures what releasing expired holds costs a quota that
// never uses holds: a warm add without the release (the script as it was before holds
// were released by every script) and with it, on the same real redis-server in one run.
// Besides the round trip (ns/op) it reports the server's own time per script run
// (server-µs/op, from INFO commandstats), which the round trip would hide.
func BenchmarkWarmAddHoldsRelease(b *testing.B) {
	server := redistest.Standalone(b)
	client := redis.NewClient(&redis.Options{Addr: server.Addr, PoolSize: 64})
	b.Cleanup(func() { client.Close() })
	ctx := context.Background()
	variants := []struct {
		name   string
		script *redis.Script
		keys   []string
	}{
		{"before", redis.NewScript(exact + addSource), []string{"{q}:usage"}},
		{"after", redis.NewScript(Add), []string{"{q}:usage", "{q}:hold-buckets"}},
	}
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			if err := v.script.Load(ctx, client).Err(); err != nil {
				b.Fatal(err)
			}
			if err := client.Set(ctx, "{q}:usage", 0, 0).Err(); err != nil {
				b.Fatal(err)
			}
			if err := client.ConfigResetStat(ctx).Err(); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetParallelism(16)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					// amount, limit, absent (missing), no limit key, no record, mode
					if err := v.script.EvalSha(ctx, client, v.keys, 1, int64(1)<<53, -1, 0, 0, 0).Err(); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(serverMicrosPerCall(b, client), "server-µs/op")
		})
	}
}

// serverMicrosPerCall reads EVALSHA's usec_per_call from INFO commandstats.
func serverMicrosPerCall(b *testing.B, client *redis.Client) float64 {
	info, err := client.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if !strings.HasPrefix(line, "cmdstat_evalsha:") {
			continue
		}
		for _, field := range strings.Split(strings.TrimSpace(strings.TrimPrefix(line, "cmdstat_evalsha:")), ",") {
			if value, ok := strings.CutPrefix(field, "usec_per_call="); ok {
				us, err := strconv.ParseFloat(value, 64)
				if err != nil {
					b.Fatal(err)
				}
				return us
			}
		}
	}
	b.Fatal("no EVALSHA in INFO commandstats")
	return 0
}
