package andromeda_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Probes (pass). Guarantee 2: while another process loads, "the load is tried again after
// waits of 1 ms doubling up to RetryIn, for at most twice LockIn in all, never past your
// context". Another process holds the loader lock (LockIn 1 s here):
//   - it writes the value after 150 ms without releasing its lock: 32 waiters see it
//     within about RetryIn, not after the lock expires, and the database is never asked;
//   - a waiter whose context ends after 100 ms returns then, with its context's error,
//     and nothing is written.
func TestReview8WaitersSeeAValueThatLandedUnderAHeldLock(t *testing.T) {
	b := standaloneBackend(t)
	ctx := context.Background()
	db := newQuotaDB()
	db.put("w8", 100, 7)
	add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) {
		c.GetQuotaUsageConfig = andromeda.GetQuotaUsageConfig{LockIn: time.Second, RetryIn: 20 * time.Millisecond}
	})
	key := keyOf("w8")
	require.NoError(t, b.client.Set(ctx, key+":andromeda-load-lock", "other-process", 5*time.Second).Err())
	go func() {
		time.Sleep(150 * time.Millisecond)
		_ = b.client.Set(ctx, key, 7, time.Hour).Err() // the other process's load lands
	}()
	started := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	var slowest time.Duration
	var mu sync.Mutex
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := add.Do(ctx, req("w8", 1))
			errs <- err
			mu.Lock()
			slowest = max(slowest, time.Since(started))
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	t.Logf("slowest waiter %v; usage %d; database asked %d", slowest.Round(time.Millisecond), b.get(t, key), db.loads.Load())
	assert.Less(t, slowest, 400*time.Millisecond, "seen soon after it landed (lock held 5 s)")
	assert.Equal(t, int64(39), b.get(t, key))
	assert.Zero(t, db.loads.Load())

	// A caller's context bounds its wait.
	require.NoError(t, b.client.Set(ctx, keyOf("w9")+":andromeda-load-lock", "other-process", 5*time.Second).Err())
	db.put("w9", 100, 7)
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	started = time.Now()
	_, err := add.Do(short, req("w9", 1))
	took := time.Since(started)
	t.Logf("short caller: %v after %v", err, took.Round(time.Millisecond))
	assert.True(t, errors.Is(err, context.DeadlineExceeded), "its own deadline: %v", err)
	assert.Less(t, took, 300*time.Millisecond)
	assert.Equal(t, int64(-1), b.get(t, keyOf("w9")), "nothing written")
}
