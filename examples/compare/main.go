// Command compare measures, in one run, against the same Redis with the same client and
// concurrency: a raw INCRBY, a bare Lua check-and-increment, andromeda's add, and
// andromeda's add with coalescing, all on one hot key. It prints operations per second,
// the ratio to raw INCRBY, latency percentiles and allocations per operation.
//
//	go run ./examples/compare -redis 127.0.0.1:6379
//	go run ./examples/compare -redis 127.0.0.1:6379 -concurrency 256
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/redisv9"
	"github.com/redis/go-redis/v9"
)

func main() {
	addr := flag.String("redis", "127.0.0.1:6379", "address of the Redis server to measure against")
	concurrency := flag.Int("concurrency", 64, "goroutines calling at once")
	duration := flag.Duration("duration", 2*time.Second, "how long each mode runs per round")
	rounds := flag.Int("rounds", 3, "rounds; modes take turns in each, and the median round is reported")
	flag.Parse()
	if err := run(os.Stdout, *addr, *concurrency, *duration, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

// The key the modes write; it is deleted before and after.
const key = "andromeda-compare:{hot}"

// bareScript is the least a check-and-increment can do in Lua.
var bareScript = redis.NewScript(`
local usage = tonumber(redis.call('GET', KEYS[1]) or '0')
if usage + tonumber(ARGV[1]) > tonumber(ARGV[2]) then return -1 end
return redis.call('INCRBY', KEYS[1], ARGV[1])`)

type mode struct {
	name string
	op   func(ctx context.Context) error
}

type measurement struct {
	ops       int64
	elapsed   time.Duration
	latencies []time.Duration
	allocs    uint64
}

func (m measurement) rate() float64 { return float64(m.ops) / m.elapsed.Seconds() }

func (m measurement) percentile(p float64) time.Duration {
	if len(m.latencies) == 0 {
		return 0
	}
	return m.latencies[min(len(m.latencies)-1, int(float64(len(m.latencies))*p))]
}

func run(out io.Writer, addr string, concurrency int, duration time.Duration, rounds int) error {
	client := redis.NewClient(&redis.Options{Addr: addr, PoolSize: concurrency})
	defer client.Close()
	ctx := context.Background()
	if err := client.Del(ctx, key).Err(); err != nil {
		return fmt.Errorf("connect to %s: %w", addr, err)
	}
	defer client.Del(ctx, key)

	cache := redisv9.New(client)
	limit := andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) { return andromeda.MaxAmount, nil })
	keyOf := andromeda.GetQuotaKeyFunc(func(context.Context, *andromeda.QuotaRequest) (string, error) { return key, nil })
	add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: cache, GetQuotaLimit: limit, GetQuotaUsageKey: keyOf})
	coalesced := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: cache, GetQuotaLimit: limit, GetQuotaUsageKey: keyOf,
		Option: andromeda.AddUsageOption{Coalesce: true}})
	request := &andromeda.QuotaUsageRequest{QuotaID: "hot", Usage: 1}

	modes := []mode{
		{"raw INCRBY", func(ctx context.Context) error { return client.IncrBy(ctx, key, 1).Err() }},
		{"bare Lua check-and-increment", func(ctx context.Context) error {
			return bareScript.Run(ctx, client, []string{key}, 1, andromeda.MaxAmount).Err()
		}},
		{"andromeda add", func(ctx context.Context) error { _, err := add.Do(ctx, request); return err }},
		{"andromeda add, coalesced", func(ctx context.Context) error { _, err := coalesced.Do(ctx, request); return err }},
	}
	for _, m := range modes { // warm up: connections, scripts, the key
		if err := m.op(ctx); err != nil {
			return fmt.Errorf("%s: %w", m.name, err)
		}
	}

	results := make([][]measurement, len(modes))
	for r := 0; r < rounds; r++ {
		for i, m := range modes {
			res, err := measure(ctx, m.op, concurrency, duration)
			if err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			results[i] = append(results[i], res)
		}
	}

	fmt.Fprintf(out, "%d goroutines on one key, %d rounds of %v per mode, Redis at %s, GOMAXPROCS %d\n",
		concurrency, rounds, duration, addr, runtime.GOMAXPROCS(0))
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "mode\tops/s\tvs INCRBY\tp50\tp99\tallocs/op\t")
	base := median(results[0]).rate()
	for i, m := range modes {
		med := median(results[i])
		fmt.Fprintf(w, "%s\t%.0f\t%.2fx\t%v\t%v\t%.1f\t\n", m.name, med.rate(), med.rate()/base,
			med.percentile(0.5).Round(time.Microsecond), med.percentile(0.99).Round(time.Microsecond),
			float64(med.allocs)/float64(med.ops))
	}
	return w.Flush()
}

// measure runs op from concurrency goroutines for duration.
func measure(ctx context.Context, op func(context.Context) error, concurrency int, duration time.Duration) (measurement, error) {
	var ops atomic.Int64
	var firstErr error
	var errOnce sync.Once
	latencies := make([][]time.Duration, concurrency)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	deadline := time.Now().Add(duration)
	start := time.Now()
	var wg sync.WaitGroup
	for g := 0; g < concurrency; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for time.Now().Before(deadline) {
				began := time.Now()
				if err := op(ctx); err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				latencies[g] = append(latencies[g], time.Since(began))
				ops.Add(1)
			}
		}(g)
	}
	wg.Wait()
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	m := measurement{ops: ops.Load(), elapsed: elapsed, allocs: after.Mallocs - before.Mallocs}
	for _, l := range latencies {
		m.latencies = append(m.latencies, l...)
	}
	sort.Slice(m.latencies, func(i, j int) bool { return m.latencies[i] < m.latencies[j] })
	return m, firstErr
}

// median returns the round with the median rate.
func median(rounds []measurement) measurement {
	sorted := append([]measurement(nil), rounds...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].rate() < sorted[j].rate() })
	return sorted[len(sorted)/2]
}
