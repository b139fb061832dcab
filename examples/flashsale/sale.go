package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ramadani/andromeda"
)

// saleConfig describes one flash sale.
type saleConfig struct {
	Items       int64   // stock on sale
	Buyers      int     // buyers racing for it
	Concurrency int     // buyers in flight at once
	FailRate    float64 // share of orders that fail after the stock was taken
	Seed        int64   // for the buyers' quantities and failures
	Key         string  // where the sold count lives in Redis
	// Coalesce sends concurrent adds together (AddUsageOption.Coalesce). Its adds carry no
	// idempotency key: a keyed add is always sent alone.
	Coalesce bool
	// Progress, if set, is called once per buyer done.
	Progress func()
}

// report is what a sale ended with.
type report struct {
	Items      int64
	Sold       int64 // units kept in completed orders
	Orders     int64 // completed orders
	SoldOut    int64 // buyers turned away because the stock was gone
	RolledBack int64 // orders that failed after taking stock, and gave it back
	Errors     int64 // anything else
	FinalUsage int64 // the sold count in Redis at the end
	Elapsed    time.Duration
	Latencies  []time.Duration // of each add, sorted
}

// Oversold is how many units were sold beyond the stock: it must be 0.
func (r report) Oversold() int64 {
	if r.Sold > r.Items {
		return r.Sold - r.Items
	}
	return 0
}

// Consistent reports whether Redis counts exactly what was sold.
func (r report) Consistent() bool { return r.FinalUsage == r.Sold && r.Oversold() == 0 }

// percentile returns the p-th percentile add latency (0 < p <= 1).
func (r report) percentile(p float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	i := int(float64(len(r.Latencies))*p+0.5) - 1
	if i < 0 {
		i = 0
	}
	return r.Latencies[i]
}

// runSale races conf.Buyers buyers for conf.Items items through andromeda: each takes
// 1 to 3 items, and some orders fail after the stock was taken, so the compensating
// reduce runs, as in the spec's claim flow.
func runSale(ctx context.Context, cache andromeda.Cache, conf saleConfig) (report, error) {
	quotaOf := func(context.Context, *andromeda.QuotaRequest) (int64, error) { return conf.Items, nil }
	soldInDatabase := func(context.Context, *andromeda.QuotaRequest) (int64, error) { return 0, nil }
	key := func(context.Context, *andromeda.QuotaRequest) (string, error) { return conf.Key, nil }
	expiration := func(context.Context, *andromeda.QuotaRequest) (time.Duration, error) { return time.Hour, nil }

	take := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{
		Cache:                   cache,
		GetQuotaLimit:           andromeda.GetQuotaFunc(quotaOf),
		GetQuotaUsage:           andromeda.GetQuotaFunc(soldInDatabase),
		GetQuotaUsageKey:        andromeda.GetQuotaKeyFunc(key),
		GetQuotaUsageExpiration: andromeda.GetQuotaExpirationFunc(expiration),
		Option:                  andromeda.AddUsageOption{Coalesce: conf.Coalesce},
	})
	giveBack := andromeda.ReduceQuotaUsage(andromeda.ReduceQuotaUsageConfig{
		Cache:                   cache,
		GetQuotaUsage:           andromeda.GetQuotaFunc(soldInDatabase),
		GetQuotaUsageKey:        andromeda.GetQuotaKeyFunc(key),
		GetQuotaUsageExpiration: andromeda.GetQuotaExpirationFunc(expiration),
	})

	// Order IDs are unique across runs, as a shop's are: a run with the same seed must not
	// replay the orders of the last one from their idempotency records.
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	rng := rand.New(rand.NewSource(conf.Seed))
	type buyer struct {
		quantity  int64
		orderFail bool
	}
	buyers := make([]buyer, conf.Buyers)
	for i := range buyers {
		buyers[i].quantity = 1
		if r := rng.Float64(); r > 0.95 {
			buyers[i].quantity = 3
		} else if r > 0.80 {
			buyers[i].quantity = 2
		}
		buyers[i].orderFail = rng.Float64() < conf.FailRate
	}

	var r report
	r.Items = conf.Items
	latencies := make([]time.Duration, len(buyers))
	var sold, orders, soldOut, rolledBack, failures atomic.Int64
	var firstErr error
	var errOnce sync.Once

	jobs := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < conf.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				b := buyers[i]
				request := &andromeda.QuotaUsageRequest{QuotaID: "sku-1", Usage: b.quantity}
				if !conf.Coalesce {
					// The order ID: a change whose reply was lost is retried by the library
					// with it and counted once, and the give-back below takes back exactly
					// this order's add.
					request.IdempotencyKey = fmt.Sprintf("order-%s-%d", run, i)
				}
				began := time.Now()
				_, err := take.Do(ctx, request)
				latencies[i] = time.Since(began)
				switch {
				case errors.Is(err, andromeda.ErrQuotaLimitExceeded):
					soldOut.Add(1)
				case err != nil:
					failures.Add(1)
					errOnce.Do(func() { firstErr = err })
				case b.orderFail: // the stock was taken but the order failed: give it back
					if _, err := giveBack.Do(ctx, request); err != nil {
						failures.Add(1)
						errOnce.Do(func() { firstErr = fmt.Errorf("give back: %w", err) })
					} else {
						rolledBack.Add(1)
					}
				default:
					orders.Add(1)
					sold.Add(b.quantity)
				}
				if conf.Progress != nil {
					conf.Progress()
				}
			}
		}()
	}
	for i := range buyers {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	r.Elapsed = time.Since(start)

	r.Sold, r.Orders, r.SoldOut, r.RolledBack, r.Errors = sold.Load(), orders.Load(), soldOut.Load(), rolledBack.Load(), failures.Load()
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	r.Latencies = latencies

	byKey := andromeda.GetQuotaKeyFunc(func(context.Context, *andromeda.QuotaRequest) (string, error) { return conf.Key, nil })
	final, err := andromeda.ReadCachedUsages(ctx, cache, byKey, []*andromeda.QuotaRequest{{QuotaID: "sale"}})
	if err != nil {
		return r, err
	}
	if final[0].Found {
		r.FinalUsage = final[0].Usage
	}
	return r, firstErr
}
