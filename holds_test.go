package andromeda_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Holds under dropped replies, default clients: reserve 600 holds, then commit the even
// ones and cancel the odd ones, one reply in ten dropped throughout. Holds are keyed, so
// the library retries unknown outcomes; what stays unknown or was not run the caller sends again once
// the network heals. In the end the usage is exactly the committed holds.
func TestHoldsCountOnceUnderDroppedReplies(t *testing.T) {
	redistest.Require(t)
	const key = "holds10:{q}:usage"
	const n = 600
	for _, adapter := range defaultClientCaches {
		t.Run(adapter.name, func(t *testing.T) {
			rig := newResendRig(t, adapter.cache)
			holds := andromeda.NewQuotaHolds(andromeda.QuotaHoldsConfig{
				Cache: rig.cache,
				Quota: andromeda.Quota{
					GetQuotaLimit:    constLimit(bigLimit),
					GetQuotaUsageKey: constKey(key),
				},
				HoldFor: time.Hour,
			})
			var notRun sync.Map // requests that Redis did not run: sent again too
			do := func(step andromeda.UpdateQuotaUsage, i int) error {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_, err := step.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: 1, IdempotencyKey: fmt.Sprintf("order-%d", i)})
				if errors.Is(err, andromeda.ErrRedisUnavailable) {
					notRun.Store(i, true)
				}
				return err
			}
			resend := func(o *outcomes) map[int]bool {
				ids := map[int]bool{}
				for i := range o.unknownIDs {
					ids[i] = true
				}
				notRun.Range(func(i, _ any) bool { ids[i.(int)] = true; notRun.Delete(i); return true })
				return ids
			}
			rig.proxy.SetDropRate(dropRate)
			reserved := drive(n, func(i int) error { return do(holds.Reserve, i) })
			rig.proxy.SetDropRate(0)
			for i := range resend(reserved) {
				require.NoError(t, do(holds.Reserve, i))
			}
			rig.proxy.SetDropRate(dropRate)
			closed := drive(n, func(i int) error {
				if i%2 == 0 {
					return do(holds.Commit, i)
				}
				return do(holds.Cancel, i)
			})
			rig.proxy.SetDropRate(0)
			for i := range resend(closed) {
				if i%2 == 0 {
					require.NoError(t, do(holds.Commit, i))
				} else {
					require.NoError(t, do(holds.Cancel, i))
				}
			}
			_, cut := rig.proxy.Stats()
			t.Logf("reserve: %d done, %d unknown, %d unavailable; close: %d done, %d unknown, %d unavailable; %d cut; usage %d",
				reserved.ok.Load(), reserved.unknown.Load(), reserved.unavailable.Load(),
				closed.ok.Load(), closed.unknown.Load(), closed.unavailable.Load(), cut, rig.usage(t, key))
			assert.Empty(t, reserved.untyped)
			assert.Empty(t, closed.untyped)
			assert.Equal(t, int64(n/2), rig.usage(t, key), "exactly the committed holds are counted")
		})
	}
}
