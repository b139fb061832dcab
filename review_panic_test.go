package andromeda_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ramadani/andromeda"
)

// A transport that panics is a bug of its own, but a service that recovers panics per
// request (net/http does) goes on: the key must not stay wedged for every later
// coalesced add.
func TestReviewPanickingTransportLeavesNoCoalescedKeyWedged(t *testing.T) {
	b := miniredisBackend(t)
	db := newQuotaDB()
	db.put("v1", 100, 0)
	var panics atomic.Int64
	panics.Store(1)
	odd := oddTransport{Cache: b.cache, reply: func(real any) (any, error) {
		if panics.Add(-1) >= 0 {
			panic("instrumentation bug")
		}
		return real, nil
	}}
	add := newAdd(backend{cache: odd}, db, func(c *andromeda.AddQuotaUsageConfig) { c.Option.Coalesce = true })
	ctx := context.Background()

	// Load the usage first: a missing key is not what this test is about.
	b.set(t, keyOf("v1"), 0)
	require.Panics(t, func() { _, _ = add.Do(ctx, req("v1", 1)) })

	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	usage, err := add.Do(ctx, req("v1", 1))
	require.NoError(t, err, "the key is free again after a panic")
	assert.Equal(t, int64(2), usage)
}

// Adds queued behind a batch whose sender's transport panics must not wait forever: they
// are told the outcome is unknown (the script may have run), and the key is free again.
func TestReviewPanickingBatchReleasesItsWaiters(t *testing.T) {
	b := miniredisBackend(t)
	db := newQuotaDB()
	db.put("v1", 1000, 0)
	b.set(t, keyOf("v1"), 0)
	first := make(chan struct{})
	release := make(chan struct{})
	var calls atomic.Int64
	odd := oddTransport{Cache: b.cache, reply: func(real any) (any, error) {
		switch calls.Add(1) {
		case 1: // the add in flight: hold it while others queue behind it
			close(first)
			<-release
		case 2: // the batch of the queued adds
			panic("instrumentation bug")
		}
		return real, nil
	}}
	add := newAdd(backend{cache: odd}, db, func(c *andromeda.AddQuotaUsageConfig) { c.Option.Coalesce = true })
	ctx := context.Background()

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err := add.Do(ctx, req("v1", 1))
		assert.NoError(t, err)
	}()
	<-first
	const queued = 4
	errs := make(chan error, queued)
	for range queued {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil {
					errs <- errors.New("panicked")
				}
			}()
			_, err := add.Do(ctx, req("v1", 1)) // no deadline: a wedged key would hang here
			errs <- err
		}()
	}
	time.Sleep(50 * time.Millisecond) // let them queue
	close(release)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("adds queued behind a panicking batch wait forever")
	}
	close(errs)
	panicked, unknown := 0, 0
	for err := range errs {
		switch {
		case err != nil && err.Error() == "panicked":
			panicked++
		case errors.Is(err, andromeda.ErrUnknownOutcome):
			unknown++
		default:
			t.Errorf("a caller of the panicking batch got %v", err)
		}
	}
	assert.Equal(t, 1, panicked, "the sender's caller gets the panic")
	assert.Equal(t, queued-1, unknown, "the others may have been applied")

	usage, err := add.Do(ctx, req("v1", 1))
	require.NoError(t, err, "the key is free again")
	assert.Equal(t, b.get(t, keyOf("v1")), usage)
}

// A Next that panics (a bug in the caller's own code, recovered by its server as net/http
// does) must not leave the change counted with no claim behind it: the change is undone
// as for a failing Next, the listener hears of the Do once, and the panic goes on.
func TestReviewPanickingNextUndoesTheChange(t *testing.T) {
	b := miniredisBackend(t)
	db := newQuotaDB()
	db.put("v1", 10, 3)
	listener := &countingListener{}
	next := andromeda.UpdateQuotaUsageFunc(func(context.Context, *andromeda.QuotaUsageRequest) (int64, error) {
		panic("bug in the claim's insert")
	})
	add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) {
		c.Next = next
		c.Option.Listener = listener
	})
	require.PanicsWithValue(t, "bug in the claim's insert", func() { _, _ = add.Do(context.Background(), req("v1", 2)) })
	assert.Equal(t, int64(3), b.get(t, keyOf("v1")), "the add is undone")
	assert.Equal(t, int64(0), listener.successes.Load())
	assert.Equal(t, int64(1), listener.errors.Load(), "one listener call for the Do")
}

// A GetQuotaUsage that panics (the application's database code) runs in a load shared
// through singleflight's DoChan, which raises a panic on a goroutine of its own: no
// recover can catch it, and the whole process dies. The panic must reach the callers'
// own goroutines instead, and the next load must work.
func TestReviewPanickingLoaderIsRecoverable(t *testing.T) {
	b := miniredisBackend(t)
	db := newQuotaDB()
	db.put("v1", 10, 4)
	var panics atomic.Int64
	panics.Store(1)
	load := andromeda.GetQuotaFunc(func(ctx context.Context, r *andromeda.QuotaRequest) (int64, error) {
		if panics.Add(-1) >= 0 {
			panic("database driver bug")
		}
		return db.usage().Do(ctx, r)
	})
	add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) { c.GetQuotaUsage = load })
	require.PanicsWithValue(t, "database driver bug", func() { _, _ = add.Do(context.Background(), req("v1", 1)) })
	usage, err := add.Do(context.Background(), req("v1", 1))
	require.NoError(t, err, "the loader lock was released and the next load works")
	assert.Equal(t, int64(5), usage)
}
