// Command flashsale runs a flash sale through andromeda: thousands of buyers race for a
// few hundred items, some orders fail after taking stock and give it back, and at the end
// it checks that nothing was oversold and that Redis counts exactly what was sold.
//
//	go run ./examples/flashsale                      # embedded Redis, no server needed
//	go run ./examples/flashsale -redis 127.0.0.1:6379
//	go run ./examples/flashsale -cluster 127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002
//	go run ./examples/flashsale -redis 127.0.0.1:6379 -coalesce -concurrency 256
//	go run ./examples/flashsale -redis 127.0.0.1:6379 -client rueidis   # or valkey, v9, v8
//
// It exits with status 1 if anything was oversold or Redis disagrees with the orders.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/alicebob/miniredis/v2"
	redisv8client "github.com/go-redis/redis/v8"
	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/redisv8"
	"github.com/ramadani/andromeda/cache/redisv9"
	rueidiscache "github.com/ramadani/andromeda/cache/rueidis"
	valkeycache "github.com/ramadani/andromeda/cache/valkey"
	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
	"github.com/schollz/progressbar/v3"
	"github.com/valkey-io/valkey-go"
	"golang.org/x/term"
)

// saleKey is the only key the demo writes; it is cleared before each run.
const saleKey = "andromeda-demo:{flashsale}:sku-1:sold"

func main() {
	redisAddr := flag.String("redis", "", "address of a Redis server (default: an embedded one)")
	clusterAddrs := flag.String("cluster", "", "comma-separated addresses of Redis Cluster nodes")
	client := flag.String("client", "v9", "Redis client to use: v9 or v8 (go-redis), rueidis or valkey (valkey-go)")
	buyers := flag.Int("buyers", 10000, "buyers racing for the items")
	items := flag.Int64("items", 500, "items on sale")
	concurrency := flag.Int("concurrency", 64, "buyers in flight at once")
	failRate := flag.Float64("fail-rate", 0.05, "share of orders that fail after taking stock")
	coalesce := flag.Bool("coalesce", false, "send concurrent adds to the hot key together (AddUsageOption.Coalesce), without idempotency keys")
	seed := flag.Int64("seed", time.Now().UnixNano(), "seed for the buyers' quantities and failures")
	flag.Parse()

	if err := run(os.Stdout, options{
		redisAddr: *redisAddr, clusterAddrs: *clusterAddrs, client: *client,
		sale: saleConfig{Items: *items, Buyers: *buyers, Concurrency: *concurrency, FailRate: *failRate, Seed: *seed, Key: saleKey, Coalesce: *coalesce},
	}); err != nil {
		fmt.Fprintln(os.Stderr, "flashsale:", err)
		os.Exit(1)
	}
}

type options struct {
	redisAddr, clusterAddrs, client string
	sale                            saleConfig
}

func run(out io.Writer, opts options) error {
	if opts.sale.Items < 0 || opts.sale.Buyers < 0 || opts.sale.Concurrency < 1 || opts.sale.FailRate < 0 || opts.sale.FailRate > 1 {
		return fmt.Errorf("need -items >= 0, -buyers >= 0, -concurrency >= 1 and -fail-rate in [0, 1]")
	}
	cache, where, closeCache, err := connect(opts)
	if err != nil {
		return err
	}
	defer closeCache()

	fmt.Fprintf(out, "flash sale: %d buyers, %d items, %d at once, %.0f%% of orders fail after taking stock\n",
		opts.sale.Buyers, opts.sale.Items, opts.sale.Concurrency, opts.sale.FailRate*100)
	coalesced := ""
	if opts.sale.Coalesce {
		coalesced = ", adds coalesced (no idempotency keys)"
	}
	fmt.Fprintf(out, "on %s, client %s%s\n", where, opts.client, coalesced)
	if isTerminal(out) {
		bar := progressbar.NewOptions(opts.sale.Buyers, progressbar.OptionSetWriter(os.Stderr),
			progressbar.OptionSetDescription("buyers"), progressbar.OptionShowCount(), progressbar.OptionClearOnFinish())
		opts.sale.Progress = func() { _ = bar.Add(1) }
		defer bar.Finish()
	}

	r, err := runSale(context.Background(), cache, opts.sale)
	if err != nil {
		return err
	}
	printReport(out, r)
	if !r.Consistent() {
		return fmt.Errorf("inconsistent: oversold %d, Redis counts %d, orders hold %d", r.Oversold(), r.FinalUsage, r.Sold)
	}
	return nil
}

func printReport(out io.Writer, r report) {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "items\t%d\n", r.Items)
	fmt.Fprintf(w, "sold\t%d\t(in %d orders)\n", r.Sold, r.Orders)
	fmt.Fprintf(w, "rejected as sold out\t%d\n", r.SoldOut)
	fmt.Fprintf(w, "orders rolled back\t%d\n", r.RolledBack)
	fmt.Fprintf(w, "errors\t%d\n", r.Errors)
	fmt.Fprintf(w, "oversold\t%d\n", r.Oversold())
	fmt.Fprintf(w, "final usage vs sold\t%d vs %d\t%s\n", r.FinalUsage, r.Sold, verdict(r.FinalUsage == r.Sold))
	fmt.Fprintf(w, "throughput\t%.0f buyers/s\t(%v)\n", float64(len(r.Latencies))/r.Elapsed.Seconds(), r.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "add latency\tp50 %v\tp99 %v\n", r.percentile(0.50).Round(time.Microsecond), r.percentile(0.99).Round(time.Microsecond))
	w.Flush()
}

func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISMATCH"
}

// connect opens the Redis the options name (an embedded one by default), clears the demo
// key, and returns the cache over it.
func connect(opts options) (andromeda.Cache, string, func(), error) {
	addrs := []string{opts.redisAddr}
	where := "Redis at " + opts.redisAddr
	closers := []func(){}
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	switch {
	case opts.clusterAddrs != "":
		addrs = strings.Split(opts.clusterAddrs, ",")
		where = "Redis Cluster at " + opts.clusterAddrs
	case opts.redisAddr == "":
		embedded, err := miniredis.Run()
		if err != nil {
			return nil, "", nil, err
		}
		closers = append(closers, embedded.Close)
		addrs = []string{embedded.Addr()}
		where = "an embedded Redis (miniredis)"
	}
	cluster := opts.clusterAddrs != ""

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var cache andromeda.Cache
	var clear func() error
	switch opts.client {
	case "v9":
		var c redis.UniversalClient = redis.NewClient(&redis.Options{Addr: addrs[0], PoolSize: opts.sale.Concurrency})
		if cluster {
			c = redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, PoolSize: opts.sale.Concurrency})
		}
		closers = append(closers, func() { c.Close() })
		cache, clear = redisv9.New(c), func() error { return c.Del(ctx, saleKey).Err() }
	case "v8":
		var c redisv8client.UniversalClient = redisv8client.NewClient(&redisv8client.Options{Addr: addrs[0], PoolSize: opts.sale.Concurrency})
		if cluster {
			c = redisv8client.NewClusterClient(&redisv8client.ClusterOptions{Addrs: addrs, PoolSize: opts.sale.Concurrency})
		}
		closers = append(closers, func() { c.Close() })
		cache, clear = redisv8.New(c), func() error { return c.Del(ctx, saleKey).Err() }
	case "rueidis": // finds out by itself whether addrs are a cluster's
		// andromeda needs no client-side caching, and miniredis cannot track keys for it.
		c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: addrs, DisableCache: true})
		if err != nil {
			closeAll()
			return nil, "", nil, fmt.Errorf("connect to %s: %w", where, err)
		}
		closers = append(closers, c.Close)
		cache, clear = rueidiscache.New(c), func() error { return c.Do(ctx, c.B().Del().Key(saleKey).Build()).Error() }
	case "valkey":
		c, err := valkey.NewClient(valkey.ClientOption{InitAddress: addrs, DisableCache: true})
		if err != nil {
			closeAll()
			return nil, "", nil, fmt.Errorf("connect to %s: %w", where, err)
		}
		closers = append(closers, c.Close)
		cache, clear = valkeycache.New(c), func() error { return c.Do(ctx, c.B().Del().Key(saleKey).Build()).Error() }
	default:
		closeAll()
		return nil, "", nil, fmt.Errorf("-client must be v9, v8, rueidis or valkey, not %q", opts.client)
	}
	if err := clear(); err != nil {
		closeAll()
		return nil, "", nil, fmt.Errorf("connect to %s: %w", where, err)
	}
	return cache, where, closeAll, nil
}

func isTerminal(out io.Writer) bool {
	f, ok := out.(*os.File)
	return ok && term.IsTerminal(int(f.Fd())) && term.IsTerminal(int(os.Stderr.Fd()))
}
