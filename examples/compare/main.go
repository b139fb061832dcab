// Command compare measures, in one run, against the same Redis with the same concurrency,
// for each client asked for (-clients: go-redis v9 and v8, rueidis, valkey-go): the
// client's raw INCRBY, a bare Lua check-and-increment (one key only; go-redis v9 and
// rueidis), andromeda's add, its add with coalescing, and its add with an idempotency key,
// over 1 hot key or spread over many; with -redis-benchmark also `redis-benchmark -P 16
// -t incr`, the server's ceiling. It prints operations per second, the ratios to the first
// client's raw INCRBY, to the row's own client's INCRBY and to its plain add, latency
// percentiles, allocations per operation and, with -commandstats, the Redis time of each
// call (INFO commandstats usec_per_call, after CONFIG RESETSTAT: use a Redis of your own).
//
//	go run ./examples/compare -redis 127.0.0.1:6379
//	go run ./examples/compare -redis 127.0.0.1:6379 -clients v9,rueidis -redis-benchmark -concurrency 256
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
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/ramadani/andromeda"
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
	clients := flag.String("clients", "v9,rueidis", "comma-separated clients, each measured in every mode: v9, v8 (go-redis), rueidis, valkey (valkey-go)")
	benchmark := flag.Bool("redis-benchmark", false, "also run `redis-benchmark -P 16 -t incr -q` (on the PATH) against the same server in each round")
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
	conf := config{addr: *addr, concurrency: *concurrency, duration: *duration, rounds: *rounds, keyed: *keyed, stats: *stats,
		clients: strings.Split(*clients, ","), benchmark: *benchmark}
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
	clients     []string
	benchmark   bool
}

// prefix starts every key the modes write; each key expires after keyTTL.
const (
	prefix = "andromeda-compare:"
	keyTTL = time.Minute
)

// bareSource is the least a check-and-increment can do in Lua.
const bareSource = `
local usage = tonumber(redis.call('GET', KEYS[1]) or '0')
if usage + tonumber(ARGV[1]) > tonumber(ARGV[2]) then return -1 end
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return v`

var bareScript = redis.NewScript(bareSource)

type mode struct {
	name string
	// command is the Redis command whose commandstats this mode's calls show up in.
	command string
	op      func(ctx context.Context, quota int) error
	// incr and add index the rows of this mode's client's raw INCRBY and plain add.
	incr, add int
	// external, when set, measures the mode outside this process (redis-benchmark).
	external func() (measurement, error)
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
	limit := andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) { return andromeda.MaxAmount, nil })
	keyOf := andromeda.GetQuotaKeyFunc(func(_ context.Context, r *andromeda.QuotaRequest) (string, error) {
		i, _ := strconv.Atoi(r.QuotaID)
		return keys[i], nil
	})
	ttl := andromeda.GetQuotaExpirationFunc(func(context.Context, *andromeda.QuotaRequest) (time.Duration, error) { return keyTTL, nil })
	var orders atomic.Int64
	runID := strconv.FormatInt(time.Now().UnixNano(), 36)

	var modes []mode
	for _, name := range conf.clients {
		c, err := newClient(strings.TrimSpace(name), conf.addr, conf.concurrency)
		if err != nil {
			return err
		}
		defer c.close()
		newAdd := func(option andromeda.AddUsageOption) andromeda.UpdateQuotaUsage {
			return andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: c.cache, GetQuotaLimit: limit, GetQuotaUsageKey: keyOf,
				GetQuotaUsageExpiration: ttl, Option: option})
		}
		add := newAdd(andromeda.AddUsageOption{})
		coalesced := newAdd(andromeda.AddUsageOption{Coalesce: true})
		keyedAdd := newAdd(andromeda.AddUsageOption{IdempotencyRetention: keyTTL})
		incr := len(modes)
		modes = append(modes, mode{name: c.name + ": raw INCRBY", command: "incrby", op: func(ctx context.Context, q int) error { return c.incr(ctx, keys[q]) }})
		if conf.keys == 1 && c.bare != nil {
			modes = append(modes, mode{name: c.name + ": bare Lua check-and-increment", command: "evalsha", op: func(ctx context.Context, q int) error {
				return c.bare(ctx, keys[q])
			}})
		}
		plain := len(modes)
		modes = append(modes,
			mode{name: c.name + ": andromeda add", command: "evalsha", op: func(ctx context.Context, q int) error {
				_, err := add.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: ids[q], Usage: 1})
				return err
			}},
			mode{name: c.name + ": andromeda add, coalesced", command: "evalsha", op: func(ctx context.Context, q int) error {
				_, err := coalesced.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: ids[q], Usage: 1})
				return err
			}})
		if conf.keyed {
			modes = append(modes, mode{name: c.name + ": andromeda add, keyed", command: "evalsha", op: func(ctx context.Context, q int) error {
				r := &andromeda.QuotaUsageRequest{QuotaID: ids[q], Usage: 1, IdempotencyKey: runID + "-" + strconv.FormatInt(orders.Add(1), 36)}
				_, err := keyedAdd.Do(ctx, r)
				return err
			}})
		}
		for i := incr; i < len(modes); i++ {
			modes[i].incr, modes[i].add = incr, plain
		}
	}
	if conf.benchmark {
		modes = append(modes, mode{name: "redis-benchmark -P 16 -t incr", command: "incr", incr: -1, add: -1,
			external: func() (measurement, error) { return redisBenchmark(conf.addr) }})
	}
	for _, m := range modes { // warm up: connections, scripts
		if m.op == nil {
			continue
		}
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
			var res measurement
			var err error
			if m.external != nil {
				res, err = m.external()
			} else {
				res, err = measure(ctx, m.op, conf)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			if conf.stats {
				calls, usec, err := commandStats(ctx, client, m.command)
				if err != nil {
					return err
				}
				res.usecPerOp, res.callsPerOp = usec, float64(calls)/float64(max(res.ops, 1))
			}
			results[i] = append(results[i], res)
		}
	}

	fmt.Fprintf(out, "%d goroutines on %d key(s), %d rounds of %v per mode, Redis at %s, GOMAXPROCS %d\n",
		conf.concurrency, conf.keys, conf.rounds, conf.duration, conf.addr, runtime.GOMAXPROCS(0))
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := "mode\tops/s\tvs " + modes[0].name + "\tvs own INCRBY\tvs own add\t"
	ceiling := -1 // the redis-benchmark row
	if conf.benchmark {
		ceiling = len(modes) - 1
		header += "vs redis-benchmark\t"
	}
	header += "p50\tp99\tallocs/op\t"
	if conf.stats {
		header += "Redis µs/call\tcalls/op\t"
	}
	fmt.Fprintln(w, header)
	ratio := func(i, base int) string {
		if base < 0 || base == i {
			return "-"
		}
		return fmt.Sprintf("%.2fx", medianRatio(results[i], results[base]))
	}
	for i, m := range modes {
		med := median(results[i])
		p50, p99, allocs := "-", "-", "-" // not known for a mode measured outside this process
		if m.external == nil {
			p50, p99 = med.percentile(0.5).Round(time.Microsecond).String(), med.percentile(0.99).Round(time.Microsecond).String()
			allocs = fmt.Sprintf("%.1f", float64(med.allocs)/float64(med.ops))
		}
		fmt.Fprintf(w, "%s\t%.0f\t%s\t%s\t%s\t", m.name, med.rate(), ratio(i, 0), ratio(i, m.incr), ratio(i, m.add))
		if conf.benchmark {
			fmt.Fprintf(w, "%s\t", ratio(i, ceiling))
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t", p50, p99, allocs)
		if conf.stats {
			fmt.Fprintf(w, "%.2f\t%.3f\t", med.usecPerOp, med.callsPerOp)
		}
		fmt.Fprintln(w)
	}
	return w.Flush()
}

// redisBenchmark runs `redis-benchmark -P 16 -t incr -q` against addr: its INCR rate,
// 16 commands per pipeline from 50 connections, is what the server can do at most.
func redisBenchmark(addr string) (measurement, error) {
	host, port, _ := strings.Cut(addr, ":")
	const requests = 2_000_000
	out, err := exec.Command("redis-benchmark", "-h", host, "-p", port, "-P", "16", "-t", "incr", "-n", strconv.Itoa(requests), "-q").Output()
	if err != nil {
		return measurement{}, fmt.Errorf("redis-benchmark: %w", err)
	}
	// -q prints progress lines ending in \r, then "INCR: 1150000.00 requests per second, ...".
	text := string(out)
	i := strings.LastIndex(text, "INCR: ")
	if i < 0 {
		return measurement{}, fmt.Errorf("redis-benchmark: no INCR rate in %q", text)
	}
	fields := strings.Fields(text[i+len("INCR: "):])
	rate, err := strconv.ParseFloat(fields[0], 64)
	if err != nil || rate <= 0 {
		return measurement{}, fmt.Errorf("redis-benchmark: no INCR rate in %q", text)
	}
	return measurement{ops: requests, elapsed: time.Duration(float64(requests) / rate * float64(time.Second))}, nil
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
