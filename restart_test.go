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
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// claimsDB is an application database that records a claim before taking the quota
// and keeps or drops it after. Its loader counts every claim kept or still in flight:
// after Redis lost the usage, the reloaded usage then covers claims whose add reached the
// lost server but had not been recorded yet, so nothing can be sold twice. The price: the
// in-flight claims that had not reached it are counted too, so up to one unit per
// concurrent claim stays unsold until the next reload.
type claimsDB struct {
	limit            int64
	pending, kept    atomic.Int64
	loads            atomic.Int64
	usageFromClaimDB andromeda.GetQuota
}

func newClaimsDB(limit int64) *claimsDB {
	db := &claimsDB{limit: limit}
	db.usageFromClaimDB = andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) {
		db.loads.Add(1)
		return db.pending.Load() + db.kept.Load(), nil
	})
	return db
}

// claim runs one claim through add, as the voucher example does.
func (db *claimsDB) claim(ctx context.Context, add andromeda.UpdateQuotaUsage) error {
	db.pending.Add(1)
	_, err := add.Do(ctx, req("sale", 1))
	if err == nil {
		db.kept.Add(1)
	}
	db.pending.Add(-1)
	return err
}

func (db *claimsDB) newAdd(client redis.UniversalClient, b backend) andromeda.UpdateQuotaUsage {
	return andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{
		Cache: b.cache,
		GetQuotaLimit: andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) {
			return db.limit, nil
		}),
		GetQuotaUsage:       db.usageFromClaimDB,
		GetQuotaUsageKey:    usageKey,
		GetQuotaUsageConfig: fastRetry,
	})
}

// claimUntil keeps 16 goroutines claiming until the quota is gone or the deadline passes,
// and counts the errors that are neither success nor "sold out".
func claimUntil(db *claimsDB, add andromeda.UpdateQuotaUsage, deadline time.Time) (otherErrors int64) {
	var others atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
				err := db.claim(ctx, add)
				cancel()
				if err != nil && !errors.Is(err, andromeda.ErrQuotaLimitExceeded) {
					others.Add(1)
					time.Sleep(5 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	return others.Load()
}

// Redis is killed and restarted empty in the middle of a sale: the usage is reloaded from
// the database and nothing is oversold.
func TestRedisRestartedEmptyMidSale(t *testing.T) {
	server := redistest.Standalone(t)
	client := redis.NewClient(&redis.Options{Addr: server.Addr, MaxRetries: -1})
	defer client.Close()
	b := newBackend(t, "standalone", client, true)
	db := newClaimsDB(300)
	add := db.newAdd(client, b)

	deadline := time.Now().Add(1500 * time.Millisecond)
	restarted := make(chan error, 1)
	go func() {
		for db.kept.Load() < 100 { // restart once a third is sold
			time.Sleep(time.Millisecond)
		}
		restarted <- server.Restart()
	}()
	failures := claimUntil(db, add, deadline)
	require.NoError(t, <-restarted)

	assert.LessOrEqual(t, db.kept.Load(), db.limit, "never oversold")
	assert.GreaterOrEqual(t, db.kept.Load(), db.limit-16, "at most one unit per concurrent claim is held back by the reload")
	assert.GreaterOrEqual(t, db.loads.Load(), int64(2), "loaded at the start and again after the restart")
	usage, err := client.Get(context.Background(), keyOf("sale")).Int64()
	require.NoError(t, err)
	assert.LessOrEqual(t, usage, db.limit)
	assert.GreaterOrEqual(t, usage, db.kept.Load())
	t.Logf("sold %d of %d; %d loads; %d calls failed while Redis was down", db.kept.Load(), db.limit, db.loads.Load(), failures)
}

// Keys are evicted under maxmemory while a sale runs: an evicted usage is reloaded, never
// taken as zero, and nothing is oversold.
func TestEvictionUnderMaxmemory(t *testing.T) {
	server := redistest.Standalone(t, "--maxmemory", "2mb", "--maxmemory-policy", "allkeys-random")
	client := redis.NewClient(&redis.Options{Addr: server.Addr, MaxRetries: -1})
	defer client.Close()
	b := newBackend(t, "standalone", client, true)
	db := newClaimsDB(400)
	add := db.newAdd(client, b)

	// Filler traffic that keeps Redis at its memory limit, so keys are evicted.
	stop := make(chan struct{})
	var fillers sync.WaitGroup
	fillers.Add(1)
	go func() {
		defer fillers.Done()
		payload := make([]byte, 4<<10)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			client.Set(context.Background(), fmt.Sprint("filler-", i), payload, 0)
		}
	}()
	claimUntil(db, add, time.Now().Add(1500*time.Millisecond))
	close(stop)
	fillers.Wait()

	assert.LessOrEqual(t, db.kept.Load(), db.limit, "never oversold")
	assert.Positive(t, db.kept.Load())
	assert.Greater(t, db.loads.Load(), int64(1), "the usage key must really have been evicted and reloaded")
	evicted, err := client.Info(context.Background(), "stats").Result()
	require.NoError(t, err)
	assert.Contains(t, evicted, "evicted_keys:")
	t.Logf("sold %d of %d; usage loaded %d times", db.kept.Load(), db.limit, db.loads.Load())
}
