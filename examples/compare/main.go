// Command compare measures, in one run, against the same Redis with the same client and
// concurrency: a raw INCRBY, a bare Lua check-and-increment (one key only), andromeda's
// add, its add with coalescing, and its add with an idempotency key, over 1 hot key or
// spread over many. It prints operations per second, the ratios to raw INCRBY and to a
// plain add, latency percentiles, allocations per operation and, with -commandstats,
// the Redis time of each call (INFO commandstats usec_per_call, after CONFIG RESETSTAT:
// use a Redis of your own).
//
//	go run ./examples/compare -redis 127.0.0.1:6379
//	go run ./examples/compare -redis 127.0.0.1:6379 -keys 1,100,10000,1000000 -keyed -commandstats
//
// Every key it writes has a prefix of its own and expires a minute after the run.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
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
	rounds := flag.Int("rounds", 3, "rounds; modes take turns in each: the median round is reported, and ratios are medians of each round's ratio")
	keys := flag.String("keys", "1", "comma-separated numbers of quotas the adds are spread over, at random")
	keyed := flag.Bool("keyed", false, "also measure adds that carry an idempotency key, one per add")
	stats := flag.Bool("commandstats", false, "report Redis's time per call of each mode (resets the server's stats)")
	flag.Parse()
	var counts []int
	for _, f := range strings.Split(*keys, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "compare: -keys: %q is not a positive number\n", f)
			os.Exit(2)
		}
		counts = append(counts, n)
	}
	conf := config{addr: *addr, concurrency: *concurrency, duration: *duration, rounds: *rounds, keyed: *keyed, stats: *stats}
	for _, n := range counts {
		conf.keys = n
		if err := run(os.Stdout, conf); err != nil {
			fmt.Fprintln(os.Stderr, "compare:", err)
			os.Exit(1)
		}
	}
}

type config struct {
	addr        string
	concurrency int
	duration    time.Duration
	rounds      int
	keys        int
	keyed       bool
	stats       bool
}

// prefix starts every key the modes write; each key expires after keyTTL.
const (
	prefix = "andromeda-compare:"
	keyTTL = time.Minute
)

// bareScript is the least a check-and-increment can do in Lua.
var bareScript = redis.NewScript(`
local usage = tonumber(redis.call('GET', KEYS[1]) or '0')
if usage + tonumber(ARGV[1]) > tonumber(ARGV[2]) then return -1 end
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return v`)

type mode struct {
	name string
	// command is the Redis command whose commandstats this mode's calls show up in.
	command string
	op      func(ctx context.Context, quota int) error
}

type measurement struct {
	ops        int64
	elapsed    time.Duration
	latencies  []time.Duration
	allocs     uint64
	usecPerOp  float64 // Redis time per call, from INFO commandstats
	callsPerOp float64
}

func (m measurement) rate() float64 { return float64(m.ops) / m.elapsed.Seconds() }

func (m measurement) percentile(p float64) time.Duration {
	if len(m.latencies) == 0 {
		return 0
	}
	return m.latencies[min(len(m.latencies)-1, int(float64(len(m.latencies))*p))]
}

func run(out io.Writer, conf config) error {
	client := redis.NewClient(&redis.Options{Addr: conf.addr, PoolSize: conf.concurrency})
	defer client.Close()
	ctx := context.Background()
	if err := client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("connect to %s: %w", conf.addr, err)
	}

	keys := make([]string, conf.keys)
	for i := range keys {
		keys[i] = prefix + "{q" + strconv.Itoa(i) + "}"
	}
	ids := make([]string, conf.keys)
	for i := range ids {
		ids[i] = strconv.Itoa(i)
	}
	cache := redisv9.New(client)
	limit := andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) { return andromeda.MaxAmount, nil })
	keyOf := andromeda.GetQuotaKeyFunc(func(_ context.Context, r *andromeda.QuotaRequest) (string, error) {
		i, _ := strconv.Atoi(r.QuotaID)
		return keys[i], nil
	})
	ttl := andromeda.GetQuotaExpirationFunc(func(context.Context, *andromeda.QuotaRequest) (time.Duration, error) { return keyTTL, nil })
	newAdd := func(option andromeda.AddUsageOption) andromeda.UpdateQuotaUsage {
		return andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: cache, GetQuotaLimit: limit, GetQuotaUsageKey: keyOf,
			GetQuotaUsageExpiration: ttl, Option: option})
	}
	add := newAdd(andromeda.AddUsageOption{})
	coalesced := newAdd(andromeda.AddUsageOption{Coalesce: true})
	keyedAdd := newAdd(andromeda.AddUsageOption{IdempotencyRetention: keyTTL})
	var orders atomic.Int64
	runID := strconv.FormatInt(time.Now().UnixNano(), 36)

	modes := []mode{
		{"raw INCRBY", "incrby", func(ctx context.Context, q int) error { return client.IncrBy(ctx, keys[q], 1).Err() }},
	}
	if conf.keys == 1 {
		modes = append(modes, mode{"bare Lua check-and-increment", "evalsha", func(ctx context.Context, q int) error {
			return bareScript.Run(ctx, client, []string{keys[q]}, 1, andromeda.MaxAmount, keyTTL.Milliseconds()).Err()
		}})
	}
	modes = append(modes,
		mode{"andromeda add", "evalsha", func(ctx context.Context, q int) error {
			_, err := add.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: ids[q], Usage: 1})
			return err
		}},
		mode{"andromeda add, coalesced", "evalsha", func(ctx context.Context, q int) error {
			_, err := coalesced.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: ids[q], Usage: 1})
			return err
		}})
	if conf.keyed {
		modes = append(modes, mode{"andromeda add, keyed", "evalsha", func(ctx context.Context, q int) error {
			r := &andromeda.QuotaUsageRequest{QuotaID: ids[q], Usage: 1, IdempotencyKey: runID + "-" + strconv.FormatInt(orders.Add(1), 36)}
			_, err := keyedAdd.Do(ctx, r)
			return err
		}})
	}
	for _, m := range modes { // warm up: connections, scripts
		if err := m.op(ctx, 0); err != nil {
			return fmt.Errorf("%s: %w", m.name, err)
		}
	}
	// INCRBY makes keys without expiry: give them one.
	defer expireAll(ctx, client, keys)

	results := make([][]measurement, len(modes))
	for r := 0; r < conf.rounds; r++ {
		for i, m := range modes {
			if conf.stats {
				if err := client.ConfigResetStat(ctx).Err(); err != nil {
					return fmt.Errorf("CONFIG RESETSTAT: %w", err)
				}
			}
			res, err := measure(ctx, m.op, conf)
			if err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			if conf.stats {
				calls, usec, err := commandStats(ctx, client, m.command)
				if err != nil {
					return err
				}
				res.usecPerOp, res.callsPerOp = usec, float64(calls)/float64(res.ops)
			}
			results[i] = append(results[i], res)
		}
	}

	fmt.Fprintf(out, "%d goroutines on %d key(s), %d rounds of %v per mode, Redis at %s, GOMAXPROCS %d\n",
		conf.concurrency, conf.keys, conf.rounds, conf.duration, conf.addr, runtime.GOMAXPROCS(0))
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := "mode\tops/s\tvs INCRBY\tvs add\tp50\tp99\tallocs/op\t"
	if conf.stats {
		header += "Redis µs/call\tcalls/op\t"
	}
	fmt.Fprintln(w, header)
	plain := -1
	for i, m := range modes {
		if m.name == "andromeda add" {
			plain = i
		}
	}
	for i, m := range modes {
		med := median(results[i])
		vsAdd := "-"
		if plain >= 0 && i > 0 {
			vsAdd = fmt.Sprintf("%.2fx", medianRatio(results[i], results[plain]))
		}
		fmt.Fprintf(w, "%s\t%.0f\t%.2fx\t%s\t%v\t%v\t%.1f\t", m.name, med.rate(), medianRatio(results[i], results[0]), vsAdd,
			med.percentile(0.5).Round(time.Microsecond), med.percentile(0.99).Round(time.Microsecond),
			float64(med.allocs)/float64(med.ops))
		if conf.stats {
			fmt.Fprintf(w, "%.2f\t%.3f\t", med.usecPerOp, med.callsPerOp)
		}
		fmt.Fprintln(w)
	}
	return w.Flush()
}

// commandStats reads the calls and usec_per_call of command from INFO commandstats.
func commandStats(ctx context.Context, client *redis.Client, command string) (int64, float64, error) {
	info, err := client.Info(ctx, "commandstats").Result()
	if err != nil {
		return 0, 0, fmt.Errorf("INFO commandstats: %w", err)
	}
	for _, line := range strings.Split(info, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_"+command+":")
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
		return calls, usec, nil
	}
	return 0, 0, nil
}

// expireAll gives every key the run wrote an expiry, pipelined.
func expireAll(ctx context.Context, client *redis.Client, keys []string) {
	for start := 0; start < len(keys); start += 1000 {
		pipe := client.Pipeline()
		for _, k := range keys[start:min(start+1000, len(keys))] {
			pipe.Expire(ctx, k, keyTTL)
		}
		_, _ = pipe.Exec(ctx)
	}
}

// measure runs op from concurrency goroutines for duration.
func measure(ctx context.Context, op func(context.Context, int) error, conf config) (measurement, error) {
	concurrency, duration := conf.concurrency, conf.duration
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
			rng := rand.New(rand.NewPCG(uint64(g), uint64(start.UnixNano())))
			for time.Now().Before(deadline) {
				began := time.Now()
				if err := op(ctx, rng.IntN(conf.keys)); err != nil {
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

// medianRatio is the median over rounds of a's rate to b's in the same round: modes take
// turns within a round, so a burst of load from elsewhere weighs on both sides of a ratio.
func medianRatio(a, b []measurement) float64 {
	ratios := make([]float64, len(a))
	for r := range a {
		ratios[r] = a[r].rate() / b[r].rate()
	}
	sort.Float64s(ratios)
	return ratios[len(ratios)/2]
}

// median returns the round with the median rate.
func median(rounds []measurement) measurement {
	sorted := append([]measurement(nil), rounds...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].rate() < sorted[j].rate() })
	return sorted[len(sorted)/2]
}
