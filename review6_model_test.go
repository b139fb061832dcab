package andromeda_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ramadani/andromeda"
)

// Review 6, a passing probe. A random sequence of plain adds and reduces (keyed and not),
// several-quota adds and reduces, and hold reserves, commits and cancels (repeated ones
// too), all with amounts at the edges of 2^53 (1, 2, 2^52, 2^53-1, 2^53 and their
// neighbours), against a model of the usage (committed plus active holds) and of each
// quota: every outcome, returned usage and QuotaError number must match the model.
func TestReview6RandomSequenceAtMaxAmount(t *testing.T) {
	const max = int64(andromeda.MaxAmount)
	runOn(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		key, other := "r6s:{q}:a", "r6s:{q}:b"
		amounts := []int64{1, 2, 3, max / 2, max/2 + 1, max - 2, max - 1, max}
		for seed := int64(1); seed <= 8; seed++ {
			b.flush(t)
			rng := rand.New(rand.NewSource(seed))
			limit := []int64{max, max - 1, max / 2, 5}[(seed-1)%4]
			usage := limit - int64(rng.Intn(3))
			otherUsage := int64(0)
			b.set(t, key, usage)
			b.set(t, other, otherUsage)
			add := reviewAdd(b, key, func(c *andromeda.AddQuotaUsageConfig) { c.GetQuotaLimit = constLimit(limit) })
			reduce := reviewReduce(b, key, nil)
			holds := review6Holds(b, key, limit, time.Hour)
			quotas := []andromeda.Quota{
				{GetQuotaLimit: constLimit(limit), GetQuotaUsageKey: constKey(key)},
				{GetQuotaLimit: constLimit(max), GetQuotaUsageKey: constKey(other)},
			}
			multiAdd := andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: quotas})
			multiReduce := andromeda.ReduceMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: quotas})
			type hold struct {
				amount int64
				state  string
			}
			held := map[string]*hold{}
			type record struct {
				state         string
				amount, usage int64
			}
			records := map[string]*record{}
			reserves := 0
			for step := 0; step < 300; step++ {
				a := amounts[rng.Intn(len(amounts))]
				what := fmt.Sprintf("seed %d step %d", seed, step)
				switch op := rng.Intn(8); op {
				case 0: // plain add
					got, err := add.Do(ctx, req("q", a))
					if usage > limit-a {
						var qerr *andromeda.QuotaError
						require.ErrorAs(t, err, &qerr, what)
						require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded, what)
						require.Equal(t, [3]int64{usage, limit, a}, [3]int64{qerr.Usage, qerr.Limit, qerr.Requested}, what)
					} else {
						require.NoError(t, err, what)
						usage += a
						require.Equal(t, usage, got, what)
					}
				case 1: // plain reduce
					got, err := reduce.Do(ctx, req("q", a))
					if usage < a {
						var qerr *andromeda.QuotaError
						require.ErrorAs(t, err, &qerr, what)
						require.ErrorIs(t, err, andromeda.ErrInvalidMinQuotaUsage, what)
						require.Equal(t, usage, qerr.Usage, what)
					} else {
						require.NoError(t, err, what)
						usage -= a
						require.Equal(t, usage, got, what)
					}
				case 2: // keyed add or its compensating reduce
					id := fmt.Sprintf("k%d", rng.Intn(4))
					r := records[id]
					if r != nil && r.state == "applied" && rng.Intn(2) == 0 {
						got, err := reduce.Do(ctx, keyed(r.amount, id))
						if usage < r.amount {
							require.ErrorIs(t, err, andromeda.ErrInvalidMinQuotaUsage, what)
						} else {
							require.NoError(t, err, what)
							usage -= r.amount
							require.Equal(t, usage, got, what)
							r.state = "taken back"
						}
						continue
					}
					got, err := add.Do(ctx, keyed(a, id))
					switch {
					case r != nil && r.amount != a: // one key names one request
						require.ErrorIs(t, err, andromeda.ErrInvalidRequest, what)
					case r != nil && r.state == "applied":
						require.NoError(t, err, what)
						require.Equal(t, r.usage, got, what, "replayed")
					case r != nil && r.state == "refused":
						require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded, what)
						var qerr *andromeda.QuotaError
						require.ErrorAs(t, err, &qerr, what)
						require.Equal(t, r.usage, qerr.Usage, what, "replayed")
					case usage > limit-a:
						require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded, what)
						records[id] = &record{state: "refused", amount: a, usage: usage}
					default:
						require.NoError(t, err, what)
						usage += a
						require.Equal(t, usage, got, what)
						records[id] = &record{state: "applied", amount: a, usage: usage}
					}
				case 3, 4: // several quotas
					if op == 3 {
						got, err := multiAdd.Do(ctx, req("q", a))
						if usage > limit-a || otherUsage > max-a {
							require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded, what)
						} else {
							require.NoError(t, err, what)
							usage, otherUsage = usage+a, otherUsage+a
							require.Equal(t, usage, got, what)
						}
					} else {
						got, err := multiReduce.Do(ctx, req("q", a))
						if usage < a || otherUsage < a {
							require.ErrorIs(t, err, andromeda.ErrInvalidMinQuotaUsage, what)
						} else {
							require.NoError(t, err, what)
							usage, otherUsage = usage-a, otherUsage-a
							require.Equal(t, usage, got, what)
						}
					}
				case 5: // reserve (new or repeated)
					if reserves >= 60 { // far from the 10^18 bucket sums of TestReview6OwnHoldBucketsAreNeverForeign
						continue
					}
					reserves++
					id := fmt.Sprintf("h%d", rng.Intn(12))
					h := held[id]
					got, err := holds.Reserve.Do(ctx, keyed(a, id))
					switch {
					case h != nil && h.amount != a: // one hold ID names one reserve
						require.ErrorIs(t, err, andromeda.ErrInvalidRequest, what)
					case h == nil && usage > limit-a:
						require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded, what)
						held[id] = &hold{amount: a, state: "refused"}
					case h == nil:
						require.NoError(t, err, what)
						usage += a
						require.Equal(t, usage, got, what)
						held[id] = &hold{amount: a, state: "active"}
					case h.state == "refused":
						require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded, what)
					case h.state == "active":
						require.NoError(t, err, what)
						require.Equal(t, usage, got, what)
					case h.state == "committed":
						require.ErrorIs(t, err, andromeda.ErrHoldCommitted, what)
					case h.state == "cancelled":
						require.ErrorIs(t, err, andromeda.ErrHoldCancelled, what)
					}
				case 6, 7: // commit or cancel
					id := fmt.Sprintf("h%d", rng.Intn(12))
					h := held[id]
					if op == 6 {
						got, err := holds.Commit.Do(ctx, keyed(0, id))
						switch {
						case h == nil || h.state == "refused":
							require.ErrorIs(t, err, andromeda.ErrHoldNotFound, what)
						case h.state == "cancelled":
							require.ErrorIs(t, err, andromeda.ErrHoldCancelled, what)
						default:
							require.NoError(t, err, what)
							require.Equal(t, usage, got, what)
							h.state = "committed"
						}
					} else {
						got, err := holds.Cancel.Do(ctx, keyed(0, id))
						switch {
						case h != nil && h.state == "committed":
							require.ErrorIs(t, err, andromeda.ErrHoldCommitted, what)
						case h != nil && h.state == "active":
							require.NoError(t, err, what)
							usage -= min(h.amount, usage)
							require.Equal(t, usage, got, what)
							h.state = "cancelled"
						default:
							require.NoError(t, err, what)
							require.Equal(t, usage, got, what)
						}
					}
				}
				require.Equal(t, usage, b.get(t, key), what)
				require.Equal(t, otherUsage, b.get(t, other), what)
			}
			t.Logf("seed %d (limit %d): usage %d, other %d, %d holds, %d keyed records", seed, limit, usage, otherUsage, len(held), len(records))
			var errs []error
			read, err := andromeda.ReadCachedUsages(ctx, b.cache, constKey(key), []*andromeda.QuotaRequest{{QuotaID: "q"}})
			errs = append(errs, err)
			require.NoError(t, errors.Join(errs...))
			require.Equal(t, usage, read[0].Usage+read[0].Held)
		}
	}, standaloneStarter)
}
