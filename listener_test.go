package andromeda_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/stretchr/testify/assert"
)

// One listener call per Do, with the very error Do returned, for coalesced adds with a
// Next that fails now and then, short deadlines, and dropped replies (default clients).
func TestListenerOncePerDoUnderFaults(t *testing.T) {
	redistest.Require(t)
	const key = "listen:{q}:usage"
	for _, adapter := range defaultClientCaches {
		t.Run(adapter.name, func(t *testing.T) {
			rig := newResendRig(t, adapter.cache)
			var mu sync.Mutex
			heard := map[*andromeda.QuotaUsageRequest][]error{}
			listener := andromeda.ListenerFuncs{
				Success: func(_ context.Context, req *andromeda.QuotaUsageRequest, _ int64) {
					mu.Lock()
					heard[req] = append(heard[req], nil)
					mu.Unlock()
				},
				Error: func(_ context.Context, req *andromeda.QuotaUsageRequest, err error) {
					mu.Lock()
					heard[req] = append(heard[req], err)
					mu.Unlock()
				},
			}
			var nexts atomic.Int64
			errNext := errors.New("insert failed")
			add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: rig.cache, GetQuotaLimit: constLimit(bigLimit), GetQuotaUsageKey: constKey(key),
				Next: andromeda.UpdateQuotaUsageFunc(func(context.Context, *andromeda.QuotaUsageRequest) (int64, error) {
					if nexts.Add(1)%7 == 0 {
						return 0, errNext
					}
					return 0, nil
				}),
				Option: andromeda.AddUsageOption{Coalesce: true, Listener: listener}})
			rig.proxy.SetDropRate(dropRate)
			var mismatched atomic.Int64
			o := drive(1000, func(i int) error {
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(1+i%20)*time.Millisecond)
				defer cancel()
				req := &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: 1}
				_, err := add.Do(ctx, req)
				mu.Lock()
				got := heard[req]
				mu.Unlock()
				if len(got) != 1 || got[0] != err {
					mismatched.Add(1)
				}
				return err
			})
			rig.proxy.SetDropRate(0)
			t.Logf("%d done, %d unknown, %d unavailable, %d other errors; %d listener mismatches",
				o.ok.Load(), o.unknown.Load(), o.unavailable.Load(), len(o.untyped), mismatched.Load())
			assert.Zero(t, mismatched.Load(), "exactly one listener call per Do, with Do's error")
		})
	}
}
