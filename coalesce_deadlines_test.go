package andromeda_test

import (
	"context"
	"errors"
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/internal/storetypes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// landingCache delays each add (alone or batched) 0-4 ms and then makes it on Redis whatever the caller's
// context says (a request once written is applied), reporting ErrUnknownOutcome when the
// context ended meanwhile, as a real client cut short does. It records every amount Redis
// applied.
type landingCache struct {
	andromeda.Cache
	mu      sync.Mutex
	applied map[int64]bool
}

func (c *landingCache) RunScript(ctx context.Context, s *andromeda.Script, keys []string, args ...any) (any, error) {
	adds := decodeAdds(s, keys, args)
	if adds == nil {
		return c.Cache.RunScript(ctx, s, keys, args...)
	}
	time.Sleep(time.Duration(rand.Intn(4000)) * time.Microsecond)
	reply, err := c.Cache.RunScript(context.WithoutCancel(ctx), s, keys, args...)
	if err == nil {
		if results, perr := decodeResults(s, reply, adds); perr == nil && len(results) == len(adds) {
			c.mu.Lock()
			for i, res := range results {
				if res.Status == storetypes.CacheApplied {
					c.applied[adds[i].Amount] = true
				}
			}
			c.mu.Unlock()
		}
	}
	if ctx.Err() != nil {
		return nil, errors.Join(andromeda.ErrUnknownOutcome, ctx.Err())
	}
	return reply, err
}

// 400 coalesced adds to one key, each of its own amount (1..400) and a deadline of 1 to
// 10 ms (a quarter with none), through a cache whose calls take 0-4 ms and land even when
// cut short. Every add Do reported applied was applied; every add Do reported failed
// without ErrUnknownOutcome was not; and the usage is the sum of what Redis applied.
// Totals held on a real redis-server (3 rounds).
//
// FAILED under -race before the fix that follows it: add read a.abandoned after unlocking coalescer.mu while next, under
// the lock, set it for an add whose context ended (coalesce.go:91 against :168).
func TestCoalescedDeadlinesKeepExactTotals(t *testing.T) {
	runOn(t, func(t *testing.T, b backend) {
		for round := 0; round < 3; round++ {
			key := keyOf("cd")
			b.flush(t)
			db := newQuotaDB()
			db.put("cd", 1<<40, 0)
			lc := &landingCache{Cache: b.cache, applied: map[int64]bool{}}
			add := newAdd(backend{cache: lc}, db, func(c *andromeda.AddQuotaUsageConfig) { c.Option.Coalesce = true })
			const n = 400
			errs := make([]error, n+1)
			var wg sync.WaitGroup
			for i := int64(1); i <= n; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ctx := context.Background()
					if i%4 != 0 {
						var cancel context.CancelFunc
						ctx, cancel = context.WithTimeout(ctx, time.Duration(1+rand.Intn(10))*time.Millisecond)
						defer cancel()
					}
					_, errs[i] = add.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "cd", Usage: i})
				}()
			}
			wg.Wait()
			var sum int64
			ok, unknown, failed := 0, 0, 0
			for i := int64(1); i <= n; i++ {
				if lc.applied[i] {
					sum += i
				}
				switch {
				case errs[i] == nil:
					ok++
					assert.True(t, lc.applied[i], "add %d reported applied, not applied", i)
				case errors.Is(errs[i], andromeda.ErrUnknownOutcome):
					unknown++
				default:
					failed++
					assert.False(t, lc.applied[i], "add %d reported failed (%v), applied", i, errs[i])
				}
			}
			require.Equal(t, sum, b.get(t, key))
			t.Logf("round %d: %d applied, %d unknown, %d failed", round, ok, unknown, failed)
		}
	}, standaloneStarter)
}
