package andromeda_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Guarantees 1, 2 and 10 at scale, together: hundreds of cold quotas (usage and limit both
// loaded from the database, the limit kept in Redis), keyed claims coalesced per key, on
// clients with default options through a proxy that drops 10% of replies after Redis ran
// the script. Every claim whose outcome was not definite is then settled by repeating it
// with its key on a healthy network. Each quota must end exactly full: usage = limit,
// exactly (limit - initial) claims admitted, the rest refused. A unit counted twice shows
// as an extra refusal, a lost unit as usage below the limit.
func TestReview9ThousandColdQuotasKeyedCoalescedThroughLostReplies(t *testing.T) {
	skipLongInShort(t)
	const (
		quotas   = 1000
		perQuota = 8
		limit    = 6
		initial  = 2
		workers  = 32
	)
	for _, cc := range defaultClientCaches {
		if cc.name != "v9" && cc.name != "rueidis" {
			continue
		}
		t.Run(cc.name, func(t *testing.T) {
			rig := newResendRig(t, cc.cache)
			db := newQuotaDB()
			for q := 0; q < quotas; q++ {
				db.put(fmt.Sprint("q", q), limit, initial)
			}
			add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{
				Cache:                   rig.cache,
				GetQuotaLimit:           db.limit(),
				GetQuotaUsage:           db.usage(),
				GetQuotaUsageKey:        usageKey,
				GetQuotaUsageExpiration: expireIn(time.Hour),
				GetQuotaUsageConfig:     andromeda.GetQuotaUsageConfig{LockIn: 200 * time.Millisecond},
				Option:                  andromeda.AddUsageOption{CacheLimit: true, Coalesce: true},
			})
			type claim struct{ quota, n int }
			var claims []claim
			for q := 0; q < quotas; q++ {
				for n := 0; n < perQuota; n++ {
					claims = append(claims, claim{q, n})
				}
			}
			rand.New(rand.NewSource(9)).Shuffle(len(claims), func(i, j int) { claims[i], claims[j] = claims[j], claims[i] })
			request := func(c claim) *andromeda.QuotaUsageRequest {
				return &andromeda.QuotaUsageRequest{QuotaID: fmt.Sprint("q", c.quota), Usage: 1, IdempotencyKey: fmt.Sprintf("c-%d-%d", c.quota, c.n)}
			}
			results := make([]error, len(claims))
			rig.proxy.SetDropRate(dropRate)
			start := time.Now()
			var wg sync.WaitGroup
			next := make(chan int)
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range next {
						ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
						_, results[i] = add.Do(ctx, request(claims[i]))
						cancel()
					}
				}()
			}
			for i := range claims {
				next <- i
			}
			close(next)
			wg.Wait()
			rig.proxy.SetDropRate(0)
			elapsed := time.Since(start)

			kinds := map[string]int{}
			settled := 0
			for i, err := range results {
				switch {
				case err == nil:
					kinds["ok"]++
					continue
				case errors.Is(err, andromeda.ErrQuotaLimitExceeded):
					kinds["refused"]++
					continue
				case errors.Is(err, andromeda.ErrUnknownOutcome):
					kinds["unknown"]++
				case errors.Is(err, andromeda.ErrRedisUnavailable), errors.Is(err, andromeda.ErrLockedKey), errors.Is(err, andromeda.ErrMaxRetryExceeded):
					kinds["nothing changed"]++
				default:
					kinds["untyped"]++
					t.Errorf("claim %v: untyped error %v", claims[i], err)
				}
				// Settle: the same claim again, same key, healthy network.
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				_, results[i] = add.Do(ctx, request(claims[i]))
				cancel()
				settled++
			}
			admitted := make([]int, quotas)
			refused := make([]int, quotas)
			for i, err := range results {
				switch {
				case err == nil:
					admitted[claims[i].quota]++
				case errors.Is(err, andromeda.ErrQuotaLimitExceeded):
					refused[claims[i].quota]++
				default:
					t.Errorf("claim %v still not settled: %v", claims[i], err)
				}
			}
			accepted, cut := rig.proxy.Stats()
			t.Logf("%d claims on %d cold quotas in %v: %v; %d settled afterwards; proxy: %d connections, %d cut",
				len(claims), quotas, elapsed, kinds, settled, accepted, cut)
			bad := 0
			for q := 0; q < quotas; q++ {
				usage := rig.usage(t, keyOf(fmt.Sprint("q", q)))
				if usage != limit || admitted[q] != limit-initial || refused[q] != perQuota-(limit-initial) {
					bad++
					if bad <= 10 {
						t.Errorf("quota q%d: usage %d (want %d), admitted %d (want %d), refused %d (want %d)",
							q, usage, limit, admitted[q], limit-initial, refused[q], perQuota-(limit-initial))
					}
				}
			}
			assert.Zero(t, bad, "quotas that did not end exactly full")
			require.LessOrEqual(t, db.loads.Load(), int64(quotas*3), "loads")
		})
	}
}
