package andromeda_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A missing key is never taken as zero: 9 of 10 are used in the database, so 2 more
// must be refused even though Redis has no usage yet.
func TestMissingKeyIsLoadedNotTakenAsZero(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := newQuotaDB()
		db.put("v1", 10, 9)
		add := newAdd(b, db, nil)
		_, err := add.Do(context.Background(), req("v1", 2))
		require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded)
		assert.Equal(t, int64(9), b.get(t, keyOf("v1")))
		ttl, err := b.client.PTTL(context.Background(), keyOf("v1")).Result()
		require.NoError(t, err)
		assert.Greater(t, ttl.Minutes(), 59.0, "loaded with GetQuotaUsageExpiration")
	})
}

// 64 callers hit one cold key at once while GetQuotaUsage takes 50 ms: it runs once
// and none fails.
func TestColdKeyIsLoadedOnce(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := newQuotaDB()
		db.put("v1", 1000, 100)
		db.loadDelay = 50 * time.Millisecond
		add := newAdd(b, db, nil)

		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := 0; i < 64; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := add.Do(context.Background(), req("v1", 1))
				assert.NoError(t, err)
			}()
		}
		close(start)
		wg.Wait()
		assert.Equal(t, int64(1), db.loads.Load())
		assert.Equal(t, int64(164), b.get(t, keyOf("v1")))
	})
}

// Separate processes share no singleflight: the lock in Redis makes them load once.
func TestColdKeyIsLoadedOnceAcrossProcesses(t *testing.T) {
	eachRealBackend(t, func(t *testing.T, b backend) {
		db := newQuotaDB()
		db.put("v1", 1000, 100)
		db.loadDelay = 50 * time.Millisecond
		var processes []andromeda.UpdateQuotaUsage
		for i := 0; i < 4; i++ {
			processes = append(processes, newAdd(b, db, nil), newReduce(b, db, nil))
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := 0; i < 64; i++ {
			wg.Add(1)
			go func(p andromeda.UpdateQuotaUsage) {
				defer wg.Done()
				<-start
				_, err := p.Do(context.Background(), req("v1", 1))
				assert.NoError(t, err)
			}(processes[i%len(processes)])
		}
		close(start)
		wg.Wait()
		assert.Equal(t, int64(1), db.loads.Load())
		assert.Equal(t, int64(100), b.get(t, keyOf("v1")), "32 adds and 32 reduces of 1")
	})
}

// The quota is full in the database and the cached usage expires every 30 ms while 32
// goroutines keep adding: an add to an expired key must never start from zero.
func TestExpiringKeyAdmitsNothingWhenFull(t *testing.T) {
	eachRealBackend(t, func(t *testing.T, b backend) {
		db := newQuotaDB()
		db.put("v1", 50, 50)
		add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) {
			c.GetQuotaUsageExpiration = expireIn(30 * time.Millisecond)
		})
		var admitted, calls atomic.Int64
		deadline := time.Now().Add(600 * time.Millisecond)
		var wg sync.WaitGroup
		for i := 0; i < 32; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(deadline) {
					calls.Add(1)
					_, err := add.Do(context.Background(), req("v1", 1))
					switch {
					case err == nil:
						admitted.Add(1)
					case errors.Is(err, andromeda.ErrQuotaLimitExceeded), errors.Is(err, andromeda.ErrMaxRetryExceeded):
					default:
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		assert.Zero(t, admitted.Load(), "of %d calls", calls.Load())
		assert.Greater(t, db.loads.Load(), int64(3), "the key must really have expired and been reloaded")
	})
}

// A process that took the loader lock and died: the others proceed once LockIn expires.
func TestDeadLoaderLockExpires(t *testing.T) {
	eachRealBackend(t, func(t *testing.T, b backend) {
		db := newQuotaDB()
		db.put("v1", 10, 1)
		conf := andromeda.GetQuotaUsageConfig{LockIn: 300 * time.Millisecond, MaxRetry: 50, RetryIn: 20 * time.Millisecond}
		_, _, err := b.cache.Lock(context.Background(), keyOf("v1")+":andromeda-load-lock", conf.LockIn)
		require.NoError(t, err)
		add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) { c.GetQuotaUsageConfig = conf })

		start := time.Now()
		usage, err := add.Do(context.Background(), req("v1", 1))
		require.NoError(t, err)
		assert.Equal(t, int64(2), usage)
		assert.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond, "it waited for the dead holder's lock")
	})
}

// A lock held elsewhere that never frees: the wait ends after twice LockIn.
func TestLockedKeyGivesUpAfterTwiceLockIn(t *testing.T) {
	b := miniredisBackend(t)
	db := newQuotaDB()
	db.put("v1", 10, 1)
	_, _, err := b.cache.Lock(context.Background(), keyOf("v1")+":andromeda-load-lock", time.Minute)
	require.NoError(t, err)
	add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) {
		c.GetQuotaUsageConfig = andromeda.GetQuotaUsageConfig{LockIn: 50 * time.Millisecond, MaxRetry: 3, RetryIn: 5 * time.Millisecond}
	})
	start := time.Now()
	_, err = add.Do(context.Background(), req("v1", 1))
	require.ErrorIs(t, err, andromeda.ErrMaxRetryExceeded)
	assert.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond, "it waited twice LockIn, not MaxRetry steps")
	require.ErrorIs(t, err, andromeda.ErrLockedKey)
	assert.Zero(t, db.loads.Load())
	assert.Equal(t, int64(-1), b.get(t, keyOf("v1")))
}

func TestWaitingForLockHonoursTheContext(t *testing.T) {
	b := miniredisBackend(t)
	db := newQuotaDB()
	db.put("v1", 10, 1)
	_, _, err := b.cache.Lock(context.Background(), keyOf("v1")+":andromeda-load-lock", time.Minute)
	require.NoError(t, err)
	add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) {
		c.GetQuotaUsageConfig = andromeda.GetQuotaUsageConfig{MaxRetry: 1000, RetryIn: 20 * time.Millisecond}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = add.Do(ctx, req("v1", 1))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), time.Second, "it left long before its 1,000 retries 20ms apart")
}

func TestSlowLoaderHonoursTheCallersContext(t *testing.T) {
	b := miniredisBackend(t)
	db := newQuotaDB()
	db.put("v1", 10, 1)
	db.loadDelay = 500 * time.Millisecond
	add := newAdd(b, db, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := add.Do(ctx, req("v1", 1))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), db.loadDelay, "it left without waiting for the loader")
	// The load itself goes on, for whoever comes next, and ends.
	assert.Eventually(t, func() bool { return b.get(t, keyOf("v1")) == 1 }, 5*time.Second, 10*time.Millisecond)
}

func TestLoaderErrorsChangeNothing(t *testing.T) {
	b := miniredisBackend(t)
	db := newQuotaDB()
	db.put("known", 10, 0)
	add := newAdd(b, db, nil)

	// GetQuotaUsage fails: its error comes back wrapped.
	db.limits["unknown"] = 10
	_, err := add.Do(context.Background(), req("unknown", 1))
	require.ErrorIs(t, err, andromeda.ErrQuotaNotFound)
	assert.Equal(t, int64(-1), b.get(t, keyOf("unknown")))

	// GetQuotaUsage returns a negative usage.
	db.put("negative", 10, -1)
	_, err = add.Do(context.Background(), req("negative", 1))
	require.ErrorIs(t, err, andromeda.ErrInvalidRequest)
	assert.Contains(t, err.Error(), "GetQuotaUsage returned -1")
	assert.Equal(t, int64(-1), b.get(t, keyOf("negative")))
}
