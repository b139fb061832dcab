package andromeda_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ramadani/andromeda"
)

// Next failing after each kind of change: the change is undone exactly (usage back where
// it was, on every quota it touched), the listener hears once per Do, and the error is
// Next's; with Irreversible the change stays and the error is still Next's.
func TestReviewNextFailingAfterEveryKindOfChange(t *testing.T) {
	eachRealBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		type kind struct {
			step  func(key string, l andromeda.UpdateQuotaUsageListener, irreversible bool) andromeda.UpdateQuotaUsage
			req   func(i int) *andromeda.QuotaUsageRequest
			delta int64 // the change of one Do, when kept
		}
		multi := func(op func(andromeda.MultiQuotaUsageConfig) andromeda.UpdateQuotaUsage) func(string, andromeda.UpdateQuotaUsageListener, bool) andromeda.UpdateQuotaUsage {
			return func(key string, l andromeda.UpdateQuotaUsageListener, irreversible bool) andromeda.UpdateQuotaUsage {
				return op(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Next: failingNext(),
					Quotas: []andromeda.Quota{
						{GetQuotaLimit: constLimit(1000), GetQuotaUsageKey: constKey(key)},
						{GetQuotaLimit: constLimit(1000), GetQuotaUsageKey: constKey(key + ":second")},
					},
					Option: andromeda.MultiQuotaUsageOption{Listener: l, Irreversible: irreversible}})
			}
		}
		add := func(coalesce bool) func(string, andromeda.UpdateQuotaUsageListener, bool) andromeda.UpdateQuotaUsage {
			return func(key string, l andromeda.UpdateQuotaUsageListener, irreversible bool) andromeda.UpdateQuotaUsage {
				return reviewAdd(b, key, func(c *andromeda.AddQuotaUsageConfig) {
					c.Next, c.GetQuotaLimit = failingNext(), constLimit(1000)
					c.Option = andromeda.AddUsageOption{Listener: l, Irreversible: irreversible, Coalesce: coalesce}
				})
			}
		}
		reduce := func(key string, l andromeda.UpdateQuotaUsageListener, irreversible bool) andromeda.UpdateQuotaUsage {
			return andromeda.ReduceQuotaUsage(andromeda.ReduceQuotaUsageConfig{Cache: b.cache, GetQuotaUsageKey: constKey(key),
				Next: failingNext(), Option: andromeda.ReduceUsageOption{Listener: l, Irreversible: irreversible}})
		}
		plain := func(int) *andromeda.QuotaUsageRequest { return req("q", 1) }
		keyedReq := func(i int) *andromeda.QuotaUsageRequest { return keyed(1, "k"+string(rune('a'+i%26))) }
		kinds := map[string]kind{
			"add":          {add(false), plain, 1},
			"keyed add":    {add(false), keyedReq, 1},
			"coalesced":    {add(true), plain, 1},
			"reduce":       {reduce, plain, -1},
			"keyed reduce": {reduce, keyedReq, -1},
			"multi add":    {multi(andromeda.AddMultiQuotaUsage), plain, 1},
			"multi reduce": {multi(andromeda.ReduceMultiQuotaUsage), plain, -1},
		}
		n := 0
		for name, k := range kinds {
			for _, irreversible := range []bool{false, true} {
				n++
				key := "next:{" + string(rune('a'+n)) + "}:usage"
				t.Run(name+map[bool]string{false: "", true: " irreversible"}[irreversible], func(t *testing.T) {
					b.set(t, key, 100)
					b.set(t, key+":second", 100)
					l := &countingListener{}
					step := k.step(key, l, irreversible)
					const dos = 12
					var wg sync.WaitGroup
					for i := range dos {
						wg.Add(1)
						go func() {
							defer wg.Done()
							_, err := step.Do(ctx, k.req(i))
							assert.ErrorIs(t, err, errNextFails)
							assert.NotErrorIs(t, err, andromeda.ErrUndoFailed)
						}()
					}
					wg.Wait()
					want := int64(100)
					if irreversible {
						want += dos * k.delta
					}
					assert.Equal(t, want, b.get(t, key))
					if name == "multi add" || name == "multi reduce" {
						assert.Equal(t, want, b.get(t, key+":second"))
					}
					assert.Equal(t, int64(dos), l.errors.Load(), "one listener call per Do")
					assert.Zero(t, l.successes.Load())
				})
			}
		}
	})
}
