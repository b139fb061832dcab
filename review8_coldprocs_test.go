package andromeda_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/redisv9"
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
)

// Probe (passes). Guarantee 2 with Option.CacheLimit across several processes: 6 separate
// clients (instances), 8 goroutines each, keyed claims on one cold quota whose limit and
// usage both load in 40 ms. The limit is asked once, the usage once, none fails, and the
// claims admitted are exactly what fits.
func TestReview8ColdKeyWithCacheLimitAcrossProcesses(t *testing.T) {
	redistest.Require(t)
	server := redistest.Standalone(t)
	db := newQuotaDB()
	db.put("cold8", 30, 5)
	db.loadDelay = 40 * time.Millisecond
	var limitLoads atomic.Int64
	limit := andromeda.GetQuotaFunc(func(ctx context.Context, r *andromeda.QuotaRequest) (int64, error) {
		limitLoads.Add(1)
		time.Sleep(40 * time.Millisecond)
		return db.limit().Do(ctx, r)
	})
	const procs, each = 6, 8
	var ok, soldOut, failed atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for p := 0; p < procs; p++ {
		client := redis.NewClient(&redis.Options{Addr: server.Addr})
		t.Cleanup(func() { client.Close() })
		add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: redisv9.New(client), GetQuotaLimit: limit,
			GetQuotaUsage: db.usage(), GetQuotaUsageKey: usageKey,
			GetQuotaUsageConfig: andromeda.GetQuotaUsageConfig{LockIn: 500 * time.Millisecond},
			Option:              andromeda.AddUsageOption{CacheLimit: true}})
		for g := 0; g < each; g++ {
			wg.Add(1)
			go func(id string) {
				defer wg.Done()
				<-start
				_, err := add.Do(context.Background(), &andromeda.QuotaUsageRequest{QuotaID: "cold8", Usage: 1, IdempotencyKey: id})
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, andromeda.ErrQuotaLimitExceeded):
					soldOut.Add(1)
				default:
					failed.Add(1)
					t.Logf("failed: %v", err)
				}
			}(string(rune('a'+p)) + string(rune('a'+g)))
		}
	}
	close(start)
	wg.Wait()
	t.Logf("ok %d, sold out %d, failed %d; limit loads %d, usage loads %d", ok.Load(), soldOut.Load(), failed.Load(), limitLoads.Load(), db.loads.Load())
	assert.Zero(t, failed.Load())
	assert.Equal(t, int64(25), ok.Load())
	assert.Equal(t, int64(1), limitLoads.Load())
	assert.Equal(t, int64(1), db.loads.Load())
}
