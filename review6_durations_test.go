package andromeda_test

import (
	"context"
	"errors"
	"testing"
	"time"

	redisv8client "github.com/go-redis/redis/v8"
	"github.com/ramadani/andromeda/cache/redisv8"
	"github.com/ramadani/andromeda/cache/redisv9"
	arueidis "github.com/ramadani/andromeda/cache/rueidis"
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/redis/go-redis/v9"
	rd "github.com/redis/rueidis"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ramadani/andromeda"
)

// review6Sentinels are the sentinels an error from Do may wrap (errors.go).
var review6Sentinels = []error{andromeda.ErrQuotaLimitExceeded, andromeda.ErrInvalidMinQuotaUsage, andromeda.ErrQuotaNotFound,
	andromeda.ErrLockedKey, andromeda.ErrMaxRetryExceeded, andromeda.ErrInvalidRequest, andromeda.ErrInvalidCachedUsage,
	andromeda.ErrHoldExpired, andromeda.ErrHoldNotFound, andromeda.ErrHoldCommitted, andromeda.ErrHoldCancelled,
	andromeda.ErrUnknownOutcome, andromeda.ErrRedisUnavailable, andromeda.ErrUndoFailed, andromeda.ErrCrossSlot,
	context.Canceled, context.DeadlineExceeded}

// Review 6. Durations below a millisecond, where Redis counts in ms. Every other duration
// the library sends to Redis is rounded up to a whole millisecond (scripts.Milliseconds:
// "a positive expiration never becomes 0"), and so is the loader lock's TTL by the rueidis
// and valkey adapters ("at least one: PX 0 is an error", cache/rueidis/lock.go); the v8
// adapter copes too. The v9 adapter passes GetQuotaUsageConfig.LockIn to redislock v0.9 as
// it is: a LockIn of 500µs becomes "PX 0", and every add on a cold key fails with Redis's "ERR invalid expire
// time in 'set' command", an error that wraps no sentinel of the library (README Guarantee
// 6: "Every error is a *QuotaError that wraps a sentinel"). With LockIn 1ns the loader's
// own context (LockIn long) has ended before the lock is asked for, on every adapter: a
// bare "context deadline exceeded" from a Do whose context has no deadline. 1.5ms works
// everywhere. Nothing is written either way.
func TestReview6SubMillisecondLockIn(t *testing.T) {
	server := redistest.Standalone(t)
	adapters := map[string]func(t *testing.T) andromeda.Cache{
		"v9": func(t *testing.T) andromeda.Cache {
			c := redis.NewClient(&redis.Options{Addr: server.Addr})
			t.Cleanup(func() { c.Close() })
			return redisv9.New(c)
		},
		"v8": func(t *testing.T) andromeda.Cache {
			c := redisv8client.NewClient(&redisv8client.Options{Addr: server.Addr})
			t.Cleanup(func() { c.Close() })
			return redisv8.New(c)
		},
		"rueidis": func(t *testing.T) andromeda.Cache {
			c, err := rd.NewClient(rd.ClientOption{InitAddress: []string{server.Addr}, DisableCache: true})
			require.NoError(t, err)
			t.Cleanup(c.Close)
			return arueidis.New(c)
		},
	}
	direct := redis.NewClient(&redis.Options{Addr: server.Addr})
	t.Cleanup(func() { direct.Close() })
	for name, cacheOf := range adapters {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			cache := cacheOf(t)
			db := newQuotaDB()
			db.put("q", 10, 3)
			for _, lockIn := range []time.Duration{1500 * time.Microsecond, 500 * time.Microsecond, time.Nanosecond} {
				require.NoError(t, direct.FlushAll(ctx).Err())
				add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: cache, GetQuotaLimit: db.limit(),
					GetQuotaUsage: db.usage(), GetQuotaUsageKey: usageKey,
					GetQuotaUsageConfig: andromeda.GetQuotaUsageConfig{LockIn: lockIn, RetryIn: time.Millisecond}})
				usage, err := add.Do(ctx, req("q", 1))
				if err != nil {
					t.Logf("LockIn %v: %v", lockIn, err)
					wraps := false
					for _, s := range review6Sentinels {
						wraps = wraps || errors.Is(err, s)
					}
					assert.True(t, wraps, "LockIn %v: an error that wraps no sentinel", lockIn)
					// The Do's own context has no deadline: a deadline error names nothing the caller did.
					assert.NotErrorIs(t, err, context.DeadlineExceeded, "LockIn %v", lockIn)
					assert.Empty(t, direct.Keys(ctx, "*").Val(), "nothing written")
				}
				assert.NoError(t, err, "LockIn %v is rounded up to 1ms, as every other duration is", lockIn)
				assert.Equal(t, int64(4), usage, "LockIn %v", lockIn)
			}
		})
	}
}

// Review 6. A LockIn of "forever" (time.Duration(math.MaxInt64), as users write "keep it as
// long as possible" for the other durations: TestReviewForeverRetentionStillCountsOnce)
// must make a change wait for another process's load, bounded by its context (README:
// "a change waits for another process's load at most twice this", "never past your
// context"). retryMissing computes 2*LockIn, which overflows to a negative duration: the
// change gives up at once with ErrMaxRetryExceeded ("waited 0s"), while the other
// process's load lands 100ms later. Any LockIn above MaxInt64/2 (about 146 years) does it.
func TestReview6ForeverLockInWaitsForTheLoad(t *testing.T) {
	runOn(t, func(t *testing.T, b backend) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		db := newQuotaDB()
		db.put("q", 10, 3)
		for _, lockIn := range []time.Duration{time.Second, time.Duration(1<<63 - 1)} {
			b.flush(t)
			lockKey := keyOf("q") + ":andromeda-load-lock"
			// Another process holds the loader lock, and stores the usage 100ms later.
			require.NoError(t, b.client.Set(ctx, lockKey, "another-process", time.Minute).Err())
			go func() {
				time.Sleep(100 * time.Millisecond)
				b.client.Set(context.Background(), keyOf("q"), 3, time.Hour)
				b.client.Del(context.Background(), lockKey)
			}()
			add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) {
				c.GetQuotaUsageConfig = andromeda.GetQuotaUsageConfig{LockIn: lockIn, RetryIn: 10 * time.Millisecond}
			})
			start := time.Now()
			usage, err := add.Do(ctx, req("q", 1))
			t.Logf("LockIn %v: usage %d, err %v, after %v", lockIn, usage, err, time.Since(start).Round(time.Millisecond))
			assert.NoError(t, err, "LockIn %v", lockIn)
			assert.Equal(t, int64(4), usage, "LockIn %v", lockIn)
			time.Sleep(150 * time.Millisecond) // the other process is done
		}
	}, standaloneStarter)
}
