package andromeda_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countedLimit is a GetQuotaLimit that counts its calls.
func countedLimit(limit int64, calls *atomic.Int64) andromeda.GetQuota {
	return andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) {
		calls.Add(1)
		return limit, nil
	})
}

// With the limit kept in Redis, warm adds make no call to GetQuotaLimit and stay one
// round trip.
func TestCachedLimitWarmAddIsOneRoundTripWithoutDatabase(t *testing.T) {
	b := standaloneBackend(t)
	log := &commandLog{}
	b.client.(*redis.Client).AddHook(log)
	db := newQuotaDB()
	db.put("v1", 100, 0)
	var limitCalls atomic.Int64
	add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) {
		c.GetQuotaLimit = countedLimit(100, &limitCalls)
		c.Option.CacheLimit = true
	})
	for i := 0; i < 50; i++ {
		_, err := add.Do(context.Background(), req("v1", 1))
		require.NoError(t, err)
	}
	assert.Equal(t, int64(1), limitCalls.Load())
	assert.Equal(t, int64(1), db.loads.Load())
	log.take()
	_, err := add.Do(context.Background(), req("v1", 1))
	require.NoError(t, err)
	assert.Equal(t, []string{"evalsha"}, log.take())

	limit, err := b.client.Get(context.Background(), andromeda.LimitKey(keyOf("v1"))).Int64()
	require.NoError(t, err)
	assert.Equal(t, int64(100), limit)
}

// Limits raised and lowered while 32 goroutines keep adding: adds stop exactly at each
// limit in force, and lowering below the usage stops new adds without touching usage.
func TestLimitChangesDuringLoad(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := newQuotaDB()
		db.put("v1", 100, 0)
		var limitCalls atomic.Int64
		add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) {
			c.GetQuotaLimit = countedLimit(100, &limitCalls)
			c.Option.CacheLimit = true
		})
		var admitted atomic.Int64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for g := 0; g < 32; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					_, err := add.Do(context.Background(), req("v1", 1))
					if err == nil {
						admitted.Add(1)
					} else if !errors.Is(err, andromeda.ErrQuotaLimitExceeded) {
						t.Error(err)
						return
					}
				}
			}()
		}
		defer func() { close(stop); wg.Wait() }()

		usage := func() int64 { return b.get(t, keyOf("v1")) }
		waitFor := func(want int64) {
			t.Helper()
			require.Eventually(t, func() bool { return usage() == want }, 5*time.Second, time.Millisecond, "usage %d", usage())
		}
		setLimit := func(limit int64) {
			t.Helper()
			require.NoError(t, andromeda.SetQuotaLimit(context.Background(), b.cache, keyOf("v1"), limit, time.Hour))
		}
		waitFor(100)
		setLimit(150)
		waitFor(150)
		setLimit(120) // below the usage
		time.Sleep(50 * time.Millisecond)
		assert.Equal(t, int64(150), usage(), "lowering the limit neither admits nor takes back")
		setLimit(160)
		waitFor(160)
		time.Sleep(20 * time.Millisecond)
		assert.Equal(t, int64(160), usage())
		assert.Equal(t, int64(160), admitted.Load())
		assert.Equal(t, int64(1), limitCalls.Load(), "SetQuotaLimit, not GetQuotaLimit, changed it")
	})
}

// A limit kept with an expiration is loaded again from GetQuotaLimit once it expires.
func TestCachedLimitExpires(t *testing.T) {
	b := standaloneBackend(t)
	db := newQuotaDB()
	db.put("v1", 100, 0)
	var limitCalls atomic.Int64
	add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) {
		c.GetQuotaLimit = countedLimit(100, &limitCalls)
		c.GetQuotaLimitExpiration = expireIn(50 * time.Millisecond)
		c.Option.CacheLimit = true
	})
	_, err := add.Do(context.Background(), req("v1", 1))
	require.NoError(t, err)
	time.Sleep(120 * time.Millisecond)
	_, err = add.Do(context.Background(), req("v1", 1))
	require.NoError(t, err)
	assert.Equal(t, int64(2), limitCalls.Load())
}

// The limit key lies in the usage key's cluster slot, tagged or not. (A key with a "}"
// but no hash tag, such as "x{}y", cannot be paired: LimitKey's doc says so.)
func TestLimitKeySharesTheUsageKeySlot(t *testing.T) {
	b := clusterBackend(t)
	ctx := context.Background()
	for _, key := range []string{"voucher-1", "{campaign-42}:usage", "a{b}c", "quota:{v1}:usage", "a{b"} {
		usageSlot, err := b.client.ClusterKeySlot(ctx, key).Result()
		require.NoError(t, err)
		limitSlot, err := b.client.ClusterKeySlot(ctx, andromeda.LimitKey(key)).Result()
		require.NoError(t, err)
		assert.Equal(t, usageSlot, limitSlot, "%q and %q", key, andromeda.LimitKey(key))
	}
}

func TestCachedLimitBadInput(t *testing.T) {
	b := miniredisBackend(t)
	ctx := context.Background()
	for _, tc := range []struct {
		key        string
		limit      int64
		expiration time.Duration
	}{{"", 1, 0}, {"k", -1, 0}, {"k", andromeda.MaxAmount + 1, 0}, {"k", 1, -time.Second}} {
		err := andromeda.SetQuotaLimit(ctx, b.cache, tc.key, tc.limit, tc.expiration)
		assert.ErrorIs(t, err, andromeda.ErrInvalidRequest, "%+v", tc)
	}
	assert.Equal(t, int64(-1), b.get(t, andromeda.LimitKey("k")))

	db := newQuotaDB()
	db.put("v1", 100, 0)
	add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) {
		c.GetQuotaLimit = fixed(-5)
		c.Option.CacheLimit = true
	})
	_, err := add.Do(ctx, req("v1", 1))
	require.ErrorIs(t, err, andromeda.ErrInvalidRequest)
	assert.Contains(t, err.Error(), "GetQuotaLimit returned -5")
	assert.Equal(t, int64(-1), b.get(t, andromeda.LimitKey(keyOf("v1"))))
}
