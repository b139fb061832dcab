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

// "Redis lost the usage" and TestRedisRestartedEmptyMidSale, for the paths that test does
// not take: a client with default options, keyed claims, coalescing and the limit kept in
// Redis (lost with the restart too and reloaded from the database), and holds (reserve
// then commit). The application settles every claim whose outcome is unknown by repeating
// it with its key. The README's bounds: never oversold, and at most one unit per claim in
// flight (16 goroutines) held back by the reload.
func TestReview9RedisRestartedEmptyMidSaleEveryPath(t *testing.T) {
	skipLongInShort(t)
	type claimFunc func(ctx context.Context, id string) error
	paths := []struct {
		name  string
		build func(cache andromeda.Cache, db *claimsDB) claimFunc
	}{
		{"keyed coalesced add, limit in Redis", func(cache andromeda.Cache, db *claimsDB) claimFunc {
			add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{
				Cache: cache,
				GetQuotaLimit: andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) {
					return db.limit, nil
				}),
				GetQuotaUsage:       db.usageFromClaimDB,
				GetQuotaUsageKey:    usageKey,
				GetQuotaUsageConfig: fastRetry,
				Option:              andromeda.AddUsageOption{Coalesce: true, CacheLimit: true},
			})
			return func(ctx context.Context, id string) error {
				_, err := add.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "sale", Usage: 1, IdempotencyKey: id})
				return err
			}
		}},
		{"hold reserved then committed", func(cache andromeda.Cache, db *claimsDB) claimFunc {
			holds := andromeda.NewQuotaHolds(andromeda.QuotaHoldsConfig{
				Cache: cache,
				Quota: andromeda.Quota{
					GetQuotaLimit: andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) {
						return db.limit, nil
					}),
					GetQuotaUsage:    db.usageFromClaimDB,
					GetQuotaUsageKey: usageKey,
				},
				GetQuotaUsageConfig: fastRetry,
				HoldFor:             time.Minute,
			})
			return func(ctx context.Context, id string) error {
				order := &andromeda.QuotaUsageRequest{QuotaID: "sale", Usage: 1, IdempotencyKey: id}
				if _, err := holds.Reserve.Do(ctx, order); err != nil {
					return err
				}
				_, err := holds.Commit.Do(ctx, order)
				return err
			}
		}},
	}
	for _, path := range paths {
		t.Run(path.name, func(t *testing.T) {
			server := redistest.Standalone(t)
			client := redis.NewClient(&redis.Options{Addr: server.Addr}) // default options
			b := newBackend(t, "standalone", client, true)
			db := newClaimsDB(300)
			claim := path.build(b.cache, db)

			var seq, soldOut, gaveUp, heldExpired atomic.Int64
			var untyped sync.Map
			one := func() {
				id := fmt.Sprint("claim-", seq.Add(1))
				db.pending.Add(1)
				defer db.pending.Add(-1)
				for try := 0; try < 20; try++ {
					ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
					err := claim(ctx, id)
					cancel()
					switch {
					case err == nil:
						db.kept.Add(1)
						return
					case errors.Is(err, andromeda.ErrQuotaLimitExceeded):
						soldOut.Add(1)
						return
					case errors.Is(err, andromeda.ErrHoldExpired), errors.Is(err, andromeda.ErrHoldNotFound):
						// lost with the usage (the restart also lost the hold's record, so
						// its commit finds no hold): the order is not kept
						heldExpired.Add(1)
						return
					case errors.Is(err, andromeda.ErrUnknownOutcome), errors.Is(err, andromeda.ErrRedisUnavailable),
						errors.Is(err, andromeda.ErrLockedKey), errors.Is(err, andromeda.ErrMaxRetryExceeded):
						time.Sleep(20 * time.Millisecond) // settle: the same claim again, with its key
					default:
						untyped.Store(err.Error(), true)
						time.Sleep(20 * time.Millisecond)
					}
				}
				gaveUp.Add(1)
			}

			deadline := time.Now().Add(2 * time.Second)
			restarted := make(chan error, 1)
			go func() {
				for db.kept.Load() < 100 && time.Now().Before(deadline) {
					time.Sleep(time.Millisecond)
				}
				restarted <- server.Restart()
			}()
			var wg sync.WaitGroup
			for g := 0; g < 16; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for time.Now().Before(deadline) {
						one()
					}
				}()
			}
			wg.Wait()
			require.NoError(t, <-restarted)
			untyped.Range(func(k, _ any) bool { t.Errorf("untyped error: %v", k); return true })

			usage, err := client.Get(context.Background(), keyOf("sale")).Int64()
			require.NoError(t, err)
			t.Logf("kept %d of %d, usage %d, %d loads, %d sold out, %d holds lost with the usage, %d claims given up",
				db.kept.Load(), db.limit, usage, db.loads.Load(), soldOut.Load(), heldExpired.Load(), gaveUp.Load())
			assert.LessOrEqual(t, db.kept.Load(), db.limit, "never oversold")
			assert.GreaterOrEqual(t, db.kept.Load(), db.limit-16, "at most one unit per claim in flight held back")
			assert.LessOrEqual(t, usage, db.limit)
			assert.GreaterOrEqual(t, usage, db.kept.Load())
			assert.Zero(t, gaveUp.Load(), "claims never settled")
			assert.GreaterOrEqual(t, db.loads.Load(), int64(2), "the restart emptied Redis and the usage was reloaded")
		})
	}
}
