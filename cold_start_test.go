package andromeda_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/redisv9"
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// coldStart is a fleet of processes (each its own client, Cache and AddQuotaUsage, so
// its own singleflight) serving one stream of adds: quotas cold quotas, adds adds each,
// quota after quota, dealt round robin to the processes as a load balancer would, by
// concurrency goroutines in all. Every quota's limit is adds, so every add fits.
type coldStart struct {
	processes, quotas, adds, concurrency int
	loadDelay                            time.Duration
	conf                                 andromeda.GetQuotaUsageConfig
}

type coldStartResult struct {
	elapsed  time.Duration
	failures int64
	firstErr error
	loads    int64
}

func (c coldStart) run(tb testing.TB, addr, prefix string) coldStartResult {
	db := newQuotaDB()
	db.loadDelay = c.loadDelay
	for q := 0; q < c.quotas; q++ {
		db.put(fmt.Sprint(prefix, q), int64(c.adds), 0)
	}
	adds := make([]andromeda.UpdateQuotaUsage, c.processes)
	for p := range adds {
		client := redis.NewClient(&redis.Options{Addr: addr, PoolSize: max(1, c.concurrency/c.processes)})
		tb.Cleanup(func() { client.Close() })
		adds[p] = andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: redisv9.New(client), GetQuotaLimit: db.limit(),
			GetQuotaUsage: db.usage(), GetQuotaUsageKey: usageKey, GetQuotaUsageExpiration: expireIn(time.Hour),
			GetQuotaUsageConfig: c.conf})
	}
	var res coldStartResult
	var failures atomic.Int64
	var errOnce sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for p := 0; p < c.processes; p++ {
		var next atomic.Int64 // this process's share: adds p, p+processes, ...
		for g := 0; g < max(1, c.concurrency/c.processes); g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := p + c.processes*int(next.Add(1)-1)
					if i >= c.quotas*c.adds {
						return
					}
					_, err := adds[p].Do(context.Background(), req(fmt.Sprint(prefix, i/c.adds), 1))
					if err != nil {
						failures.Add(1)
						errOnce.Do(func() { res.firstErr = err })
					}
				}
			}()
		}
	}
	wg.Wait()
	res.elapsed, res.failures, res.loads = time.Since(start), failures.Load(), db.loads.Load()
	return res
}

// Eight processes start on the same cold quotas: one load per quota in all, every add
// admitted, and the others learn that the value landed within a few ms of it (waits of
// 1ms doubling), not in RetryIn steps: the fleet takes about as long as one process.
func TestColdStartAcrossProcesses(t *testing.T) {
	server := redistest.Standalone(t)
	c := coldStart{quotas: 300, adds: 10, concurrency: 64, loadDelay: 5 * time.Millisecond}
	c.processes = 1
	one := c.run(t, server.Addr, "one-")
	c.processes = 8
	eight := c.run(t, server.Addr, "eight-")
	for _, r := range []coldStartResult{one, eight} {
		require.Zero(t, r.failures, "first error: %v", r.firstErr)
		assert.Equal(t, int64(c.quotas), r.loads, "one load per cold quota")
	}
	t.Logf("%d cold quotas x %d adds, %v loader: 1 process %v, 8 processes %v", c.quotas, c.adds, c.loadDelay, one.elapsed, eight.elapsed)
	// With 100ms steps it took 4x; under a loaded machine, allow 3x.
	assert.Less(t, eight.elapsed, 3*one.elapsed, "8 processes took %v, one %v", eight.elapsed, one.elapsed)
}

// A loader slower than the old retry budget (10 x 100ms): the waiting processes keep
// waiting while it runs, under the default config, and none fails.
func TestSlowLoaderAcrossProcessesDefaultConfig(t *testing.T) {
	server := redistest.Standalone(t)
	c := coldStart{processes: 8, quotas: 20, adds: 10, concurrency: 64, loadDelay: 1200 * time.Millisecond}
	r := c.run(t, server.Addr, "slow-")
	require.Zero(t, r.failures, "first error: %v", r.firstErr)
	assert.Equal(t, int64(c.quotas), r.loads, "one load per cold quota")
	assert.False(t, errors.Is(r.firstErr, andromeda.ErrMaxRetryExceeded))
}

// BenchmarkColdStart: one op is one cold quota, loaded (5ms) and then given 10 adds by
// 64 goroutines spread over 1 or 8 processes.
//
//	go test -run '^$' -bench ColdStart -benchtime 2000x
func BenchmarkColdStart(b *testing.B) {
	server := redistest.Standalone(b)
	for _, processes := range []int{1, 8} {
		b.Run(fmt.Sprint("processes-", processes), func(b *testing.B) {
			c := coldStart{processes: processes, quotas: b.N, adds: 10, concurrency: 64, loadDelay: 5 * time.Millisecond}
			r := c.run(b, server.Addr, fmt.Sprintf("bench-%d-%d-", processes, b.N))
			if r.failures > 0 {
				b.Fatalf("%d failures, first: %v", r.failures, r.firstErr)
			}
			b.ReportMetric(float64(r.loads)/float64(b.N), "loads/quota")
		})
	}
}
