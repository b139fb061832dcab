package andromeda_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/redisv9"
	"github.com/ramadani/andromeda/internal/faultproxy"
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// r7Sentinels are the errors the README says every error of Do wraps one of.
var r7Sentinels = []error{andromeda.ErrQuotaLimitExceeded, andromeda.ErrInvalidMinQuotaUsage, andromeda.ErrQuotaNotFound,
	andromeda.ErrLockedKey, andromeda.ErrMaxRetryExceeded, andromeda.ErrInvalidRequest, andromeda.ErrInvalidCachedUsage,
	andromeda.ErrUnknownOutcome, andromeda.ErrRedisUnavailable, andromeda.ErrUndoFailed, andromeda.ErrCrossSlot}

func r7WrapsASentinel(err error) bool {
	for _, s := range r7Sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// README, Guarantee 6: "Every error is a *QuotaError that wraps a sentinel"; "When Redis
// is down": "Every call fails closed ... the error wraps ErrRedisUnavailable (nothing was
// changed, safe to retry)"; and LockIn is "how long the loader lock is held at most".
//
// The loader takes its lock with a context of its own that ends after LockIn. When Redis
// answers slower than that (a slow network: 300 ms each way here, LockIn 200 ms, a client
// with ContextTimeoutEnabled as the README advises), the lock call ends with that
// context's deadline, and Do returns it as it is: an error that wraps no sentinel and says
// context.DeadlineExceeded, although the caller's own context has 10 s left. A caller
// that tells "my deadline passed" (504) from "Redis unavailable, retry" (503) by the
// r7Sentinels the README lists gets it wrong, and no README sentinel says it may retry.
func TestReview7SlowRedisLockFailsWithTheLoadersOwnDeadline(t *testing.T) {
	redistest.Require(t)
	server := redistest.Standalone(t)
	proxy, err := faultproxy.Start(server.Addr)
	require.NoError(t, err)
	t.Cleanup(proxy.Close)
	client := redis.NewClient(&redis.Options{Addr: proxy.Addr(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { client.Close() })
	b := backend{name: "standalone", real: true, client: client, cache: redisv9.New(client)}
	db := newQuotaDB()
	db.put("slow", 10, 3)
	add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) {
		c.GetQuotaUsageConfig = andromeda.GetQuotaUsageConfig{LockIn: 200 * time.Millisecond}
	})
	proxy.SetLatency(300 * time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = add.Do(ctx, req("slow", 1))
	t.Logf("Do: %v (caller's context: %v)", err, ctx.Err())
	require.Error(t, err)
	assert.NoError(t, ctx.Err(), "the caller's context has not ended")
	assert.True(t, r7WrapsASentinel(err), "the error wraps one of the README's sentinels")
	assert.False(t, errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil,
		"the error does not say the caller's deadline passed when it has not")
}

// The same with a slow database instead of a slow Redis: GetQuotaUsage takes 300 ms and
// honours its context (as database/sql does), LockIn is 200 ms. The loader's context ends
// while the database answers, and Do fails with "GetQuotaUsage: context deadline exceeded",
// no sentinel, while the caller's context has 10 s left. Without honouring the context
// (the value comes after 300 ms), the fenced write finds the lock expired: ErrLockedKey.
func TestReview7SlowLoaderFailsWithTheLoadersOwnDeadline(t *testing.T) {
	for _, honours := range []bool{true, false} {
		t.Run(map[bool]string{true: "loader honours its context", false: "loader ignores its context"}[honours], func(t *testing.T) {
			b := standaloneBackend(t)
			add := newAdd(b, newQuotaDB(), func(c *andromeda.AddQuotaUsageConfig) {
				c.GetQuotaLimit = constLimit(10)
				c.GetQuotaUsage = andromeda.GetQuotaFunc(func(ctx context.Context, _ *andromeda.QuotaRequest) (int64, error) {
					if !honours {
						time.Sleep(300 * time.Millisecond)
						return 3, nil
					}
					select {
					case <-time.After(300 * time.Millisecond):
						return 3, nil
					case <-ctx.Done():
						return 0, ctx.Err()
					}
				})
				c.GetQuotaUsageConfig = andromeda.GetQuotaUsageConfig{LockIn: 200 * time.Millisecond, MaxRetry: 2}
			})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			started := time.Now()
			_, err := add.Do(ctx, req("slowdb", 1))
			t.Logf("Do after %v: %v", time.Since(started).Round(time.Millisecond), err)
			require.Error(t, err)
			assert.True(t, r7WrapsASentinel(err), "the error wraps one of the README's sentinels")
			assert.False(t, errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil,
				"the error does not say the caller's deadline passed when it has not")
		})
	}
}
