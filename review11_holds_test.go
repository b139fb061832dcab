package andromeda_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReview11HoldCommitCancelDroppedReply: a hold's commit or cancel whose reply is lost once
// (Redis ran it) is resent by the library with its key and answered by the hold's record:
// success, and the usage moved exactly once (commit: unchanged; cancel: the hold given back).
func TestReview11HoldCommitCancelDroppedReply(t *testing.T) {
	redistest.Require(t)
	for _, adapter := range review11Caches {
		t.Run(adapter.name, func(t *testing.T) {
			rig := newResendRig(t, adapter.cache)
			review11Warm(t, rig.cache, "r11w:{w}:usage")
			waits := strings.HasSuffix(adapter.name, " wait")
			for _, op := range []string{"commit", "cancel"} {
				key := fmt.Sprintf("r11hc:{%s}:usage", op)
				require.NoError(t, rig.direct.Set(context.Background(), key, review11Start, 0).Err())
				h := andromeda.NewQuotaHolds(andromeda.QuotaHoldsConfig{Cache: rig.cache, Quota: review11Quota(key)})
				hold := &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: 3, IdempotencyKey: "order-" + op}
				_, err := h.Reserve.Do(context.Background(), hold)
				if waits {
					require.ErrorIs(t, err, andromeda.ErrUnknownOutcome)
				} else {
					require.NoError(t, err)
				}
				armed := &atomic.Bool{}
				armed.Store(true)
				dropping := andromeda.NewQuotaHolds(andromeda.QuotaHoldsConfig{Cache: review11DropOnce{Cache: rig.cache, proxy: rig.proxy, armed: armed}, Quota: review11Quota(key)})
				step := dropping.Commit
				want := review11Start + 3
				if op == "cancel" {
					step, want = dropping.Cancel, review11Start
				}
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				_, err = step.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "q", IdempotencyKey: "order-" + op})
				cancel()
				got := review11Outcome(err)
				t.Logf("%s: %s, usage %+d: %v", op, got, rig.usage(t, key)-review11Start, err)
				if waits {
					assert.Contains(t, []string{"ok", "unknown"}, got)
				} else {
					assert.Equal(t, "ok", got, "%s: %v", op, err)
				}
				assert.Equal(t, want, rig.usage(t, key), "%s counted once", op)
			}
		})
	}
}
