package andromeda_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ramadani/andromeda"
)

// Review 6, a passing probe. Promise 6 at the numeric edges of every entry point that
// takes a number from the user or the user's functions: 2^53+1, -1 (and 0 where 0 is not
// allowed) from a request, GetQuotaUsage, GetQuotaLimit (read each time, or loaded into
// Redis with CacheLimit), SetQuotaLimit, WarmQuotas and a hold's request. Each gets an
// error wrapping ErrInvalidRequest (a *QuotaError from Do) and leaves every key, value and
// TTL in Redis as it was (a full dump before and after).
func TestReview6BadNumbersChangeNothing(t *testing.T) {
	const max = int64(andromeda.MaxAmount)
	eachRealBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		key := "r6i:{x}:usage"
		cold := "r6i:{cold}:usage"
		value := func(n int64) andromeda.GetQuota { return constLimit(n) }
		setup := func(t *testing.T) {
			b.flush(t)
			require.NoError(t, b.client.Set(ctx, key, 7, time.Hour).Err())
			_, err := review6Holds(b, key, 100, time.Hour).Reserve.Do(ctx, keyed(2, "open"))
			require.NoError(t, err)
			_, err = reviewAdd(b, key, nil).Do(ctx, keyed(1, "claim"))
			require.NoError(t, err)
		}
		addWith := func(k string, change func(*andromeda.AddQuotaUsageConfig)) andromeda.UpdateQuotaUsage {
			return reviewAdd(b, k, change)
		}
		holdsWith := func(k string, limit, usage andromeda.GetQuota) andromeda.QuotaHolds {
			return andromeda.NewQuotaHolds(andromeda.QuotaHoldsConfig{Cache: b.cache, HoldFor: time.Hour,
				Quota: andromeda.Quota{GetQuotaLimit: limit, GetQuotaUsage: usage, GetQuotaUsageKey: constKey(k)}})
		}
		cases := map[string]func() error{}
		for _, n := range []int64{max + 1, -1, 0} {
			if n == 0 {
				continue
			}
			s := review6Name(n)
			cases["limit "+s+" add"] = func() error {
				_, err := addWith(key, func(c *andromeda.AddQuotaUsageConfig) { c.GetQuotaLimit = value(n) }).Do(ctx, req("q", 1))
				return err
			}
			cases["limit "+s+" cached add"] = func() error {
				_, err := addWith(cold, func(c *andromeda.AddQuotaUsageConfig) {
					c.GetQuotaLimit, c.Option.CacheLimit = value(n), true
				}).Do(ctx, req("q", 1))
				return err
			}
			cases["limit "+s+" coalesced cached add"] = func() error {
				_, err := addWith(cold, func(c *andromeda.AddQuotaUsageConfig) {
					c.GetQuotaLimit, c.Option.CacheLimit, c.Option.Coalesce = value(n), true, true
				}).Do(ctx, req("q", 1))
				return err
			}
			cases["usage "+s+" loaded for an add"] = func() error {
				_, err := addWith(cold, func(c *andromeda.AddQuotaUsageConfig) { c.GetQuotaUsage = value(n) }).Do(ctx, req("q", 1))
				return err
			}
			cases["usage "+s+" loaded for a reduce"] = func() error {
				_, err := andromeda.ReduceQuotaUsage(andromeda.ReduceQuotaUsageConfig{Cache: b.cache, GetQuotaUsage: value(n),
					GetQuotaUsageKey: constKey(cold)}).Do(ctx, req("q", 1))
				return err
			}
			cases["usage "+s+" loaded for a reserve"] = func() error {
				_, err := holdsWith(cold, value(10), value(n)).Reserve.Do(ctx, keyed(1, "h"))
				return err
			}
			cases["limit "+s+" reserve"] = func() error {
				_, err := holdsWith(key, value(n), nil).Reserve.Do(ctx, keyed(1, "h"))
				return err
			}
			cases["limit "+s+" multi add"] = func() error {
				quotas := []andromeda.Quota{
					{GetQuotaLimit: value(100), GetQuotaUsageKey: constKey(key)},
					{GetQuotaLimit: value(n), GetQuotaUsageKey: constKey("r6i:{x}:other")},
				}
				_, err := andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: quotas}).Do(ctx, req("q", 1))
				return err
			}
			cases["usage "+s+" loaded for a multi add"] = func() error {
				quotas := []andromeda.Quota{
					{GetQuotaLimit: value(100), GetQuotaUsageKey: constKey(key)},
					{GetQuotaLimit: value(100), GetQuotaUsage: value(n), GetQuotaUsageKey: constKey("r6i:{x}:other")},
				}
				_, err := andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: quotas}).Do(ctx, req("q", 1))
				return err
			}
			cases["SetQuotaLimit "+s] = func() error { return andromeda.SetQuotaLimit(ctx, b.cache, key, n, 0) }
			cases["warm usage "+s] = func() error {
				return andromeda.WarmQuotas(ctx, andromeda.AddQuotaUsageConfig{Cache: b.cache, GetQuotaLimit: value(10),
					GetQuotaUsage: value(n), GetQuotaUsageKey: constKey(cold)}, []andromeda.QuotaRequest{{QuotaID: "q"}}, andromeda.WarmOptions{})
			}
			cases["warm limit "+s] = func() error {
				return andromeda.WarmQuotas(ctx, andromeda.AddQuotaUsageConfig{Cache: b.cache, GetQuotaLimit: value(n),
					GetQuotaUsageKey: constKey(cold), Option: andromeda.AddUsageOption{CacheLimit: true}},
					[]andromeda.QuotaRequest{{QuotaID: "q"}}, andromeda.WarmOptions{})
			}
		}
		for _, n := range []int64{max + 1, -1, 0} {
			amount := n
			cases["amount add "+review6Name(n)] = func() error {
				_, err := reviewAdd(b, key, nil).Do(ctx, req("q", amount))
				return err
			}
			cases["amount coalesced add "+review6Name(n)] = func() error {
				_, err := reviewAdd(b, key, func(c *andromeda.AddQuotaUsageConfig) { c.Option.Coalesce = true }).Do(ctx, req("q", amount))
				return err
			}
			cases["amount keyed reduce "+review6Name(n)] = func() error {
				_, err := reviewReduce(b, key, nil).Do(ctx, keyed(amount, "claim"))
				return err
			}
			cases["amount reserve "+review6Name(n)] = func() error {
				_, err := review6Holds(b, key, 100, time.Hour).Reserve.Do(ctx, keyed(amount, "open"))
				return err
			}
			if amount != 0 {
				cases["amount commit "+review6Name(n)] = func() error {
					_, err := review6Holds(b, key, 100, time.Hour).Commit.Do(ctx, keyed(amount, "open"))
					return err
				}
				cases["amount cancel "+review6Name(n)] = func() error {
					_, err := review6Holds(b, key, 100, time.Hour).Cancel.Do(ctx, keyed(amount, "open"))
					return err
				}
			}
			cases["amount multi reduce "+review6Name(n)] = func() error {
				quotas := []andromeda.Quota{{GetQuotaUsageKey: constKey(key)}}
				_, err := andromeda.ReduceMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: quotas}).Do(ctx, req("q", amount))
				return err
			}
		}
		cases["SetQuotaLimit negative expiration"] = func() error { return andromeda.SetQuotaLimit(ctx, b.cache, key, 5, -time.Millisecond) }
		cases["idempotency key of 257 bytes"] = func() error {
			_, err := reviewAdd(b, key, nil).Do(ctx, keyed(1, strings.Repeat("k", 257)))
			return err
		}

		for name, call := range cases {
			t.Run(name, func(t *testing.T) {
				setup(t)
				before := review6Dump(t, b)
				var err error
				require.NotPanics(t, func() { err = call() })
				require.ErrorIs(t, err, andromeda.ErrInvalidRequest)
				if !strings.HasPrefix(name, "SetQuotaLimit") && !strings.HasPrefix(name, "warm") {
					var qerr *andromeda.QuotaError
					assert.ErrorAs(t, err, &qerr)
				}
				review6SameDump(t, before, review6Dump(t, b), time.Second, name)
			})
		}
	})
}

// review6Name names the numbers the probes try.
func review6Name(n int64) string {
	switch n {
	case andromeda.MaxAmount + 1:
		return "2^53+1"
	case -1:
		return "-1"
	case 0:
		return "0"
	}
	return "other"
}
