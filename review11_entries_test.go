package andromeda_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/internal/faultproxy"
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Reviewer 11: the operator's calls and the loader with Redis unreachable. README, When Redis
// is down: "Every call fails closed: nothing is admitted, and the error wraps
// ErrRedisUnavailable (nothing was changed, safe to retry)".
func TestReview11OperatorCallsWithRedisDown(t *testing.T) {
	skipLongInShort(t)
	redistest.Require(t)
	for _, adapter := range review11Caches[:4] { // the WaitForReplicas variants said the same (27 s with them)
		t.Run(adapter.name, func(t *testing.T) {
			rig := newResendRig(t, adapter.cache)
			review11Warm(t, rig.cache, "r11w:{w}:usage")
			key := "r11o:{q}:usage"
			require.NoError(t, rig.direct.Set(context.Background(), key, review11Start, 0).Err())
			rig.proxy.Refuse(true)
			rig.proxy.CutAll()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			db := newQuotaDB()
			db.put("cold", 100, 10)
			calls := map[string]error{}
			_, _, calls["forget"] = andromeda.ForgetUsage(ctx, rig.cache, key)
			calls["set limit"] = andromeda.SetQuotaLimit(ctx, rig.cache, key, 5, time.Hour)
			_, calls["read cached"] = andromeda.ReadCachedUsages(ctx, rig.cache, constKey(key), []*andromeda.QuotaRequest{{QuotaID: "q"}})
			calls["warm"] = andromeda.WarmQuotas(ctx, andromeda.AddQuotaUsageConfig{Cache: rig.cache, GetQuotaLimit: db.limit(), GetQuotaUsage: db.usage(),
				GetQuotaUsageKey: usageKey, GetQuotaUsageConfig: fastRetry}, []andromeda.QuotaRequest{{QuotaID: "cold"}}, andromeda.WarmOptions{})
			_, calls["cold add"] = andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: rig.cache, GetQuotaLimit: db.limit(), GetQuotaUsage: db.usage(),
				GetQuotaUsageKey: usageKey, GetQuotaUsageConfig: fastRetry}).Do(ctx, req("cold", 1))
			rig.proxy.Refuse(false)
			for name, err := range calls {
				t.Logf("%s: %s: %v", name, review11Outcome(err), err)
				if !errors.Is(err, andromeda.ErrUnknownOutcome) { // the adapters that cannot tell say unknown
					assert.ErrorIs(t, err, andromeda.ErrRedisUnavailable, "%s", name)
				}
			}
			assert.Equal(t, review11Start, rig.usage(t, key))
			assert.Zero(t, rig.usage(t, keyOf("cold")), "nothing loaded")
		})
	}
}

// TestReview11LostLockReply: the reply to the loader's lock (SET NX) is lost once, on a cold
// key. The lock is in Redis, the loader does not know it holds it. The add must still count
// exactly once from the database's usage, and not wait much past LockIn.
func TestReview11LostLockReply(t *testing.T) {
	redistest.Require(t)
	for _, adapter := range review11Caches[:5] {
		t.Run(adapter.name, func(t *testing.T) {
			rig := newResendRig(t, adapter.cache)
			review11Warm(t, rig.cache, "r11w:{w}:usage")
			db := newQuotaDB()
			db.put("cold", 100, 10)
			armed := &atomic.Bool{}
			armed.Store(true)
			cache := review11DropLock{Cache: rig.cache, proxy: rig.proxy, armed: armed}
			add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: cache, GetQuotaLimit: db.limit(), GetQuotaUsage: db.usage(),
				GetQuotaUsageKey: usageKey, GetQuotaUsageConfig: fastRetry})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			started := time.Now()
			_, err := add.Do(ctx, req("cold", 1))
			took := time.Since(started)
			t.Logf("%s after %v: %v; loads %d", review11Outcome(err), took.Round(time.Millisecond), err, db.loads.Load())
			if err == nil {
				assert.Equal(t, int64(11), rig.usage(t, keyOf("cold")))
			} else {
				assert.Contains(t, []int64{0, 10}, rig.usage(t, keyOf("cold")), "not applied: %v", err)
				// a second try works once the lock expired
				time.Sleep(fastRetry.LockIn)
				_, err2 := add.Do(context.Background(), req("cold", 1))
				require.NoError(t, err2)
				assert.Equal(t, int64(11), rig.usage(t, keyOf("cold")))
			}
		})
	}
}

type review11DropLock struct {
	andromeda.Cache
	proxy *faultproxy.Proxy
	armed *atomic.Bool
}

func (c review11DropLock) Lock(ctx context.Context, key string, ttl time.Duration) (string, func(context.Context) error, error) {
	if c.armed.CompareAndSwap(true, false) {
		c.proxy.DropReplies(true)
		defer c.proxy.DropReplies(false)
	}
	token, release, err := c.Cache.Lock(ctx, key, ttl)
	if err != nil {
		err = fmt.Errorf("(review11 lock) %w", err)
	}
	return token, release, err
}
