package andromeda_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// README, Guarantee 5: "Listeners get exactly one call per Do." Guarantee 4 shows what the
// library does with a user's panic: "A Next that panics is undone the same way, and the
// panic goes on once the listener has been told."
//
// A GetQuotaUsage that panics runs in the shared load (singleflight), and load() raises the
// panic again on each waiting caller's goroutine (TestReviewPanickingLoaderIsRecoverable).
// That panic unwinds through usageStep.Do past s.done: the listener is never told of the Do
// (and an EventListener/StartListener, such as the OpenTelemetry span, never ends).
func TestReview8LoaderPanicStillTellsTheListenerOnce(t *testing.T) {
	b := standaloneBackend(t)
	db := newQuotaDB()
	db.put("p1", 10, 4)
	var panics atomic.Int64
	panics.Store(1)
	release := make(chan struct{})
	load := andromeda.GetQuotaFunc(func(ctx context.Context, r *andromeda.QuotaRequest) (int64, error) {
		if panics.Add(-1) >= 0 {
			<-release // let the other callers join the shared load
			panic("database driver bug")
		}
		return db.usage().Do(ctx, r)
	})
	listener := &countingListener{}
	add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) {
		c.GetQuotaUsage = load
		c.Option.Listener = listener
	})
	const callers = 4
	var wg sync.WaitGroup
	var panicked atomic.Int64
	for i := 0; i < callers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if recover() != nil {
					panicked.Add(1)
				}
			}()
			_, _ = add.Do(context.Background(), req("p1", 1))
		}()
	}
	time.Sleep(200 * time.Millisecond)
	close(release)
	wg.Wait()
	t.Logf("callers %d, panicked %d, listener: %d successes, %d errors", callers, panicked.Load(),
		listener.successes.Load(), listener.errors.Load())
	require.Positive(t, panicked.Load(), "the loader's panic reached a caller")
	assert.Equal(t, int64(callers), listener.successes.Load()+listener.errors.Load(),
		"exactly one listener call per Do, as for a Next that panics")
}

// The same for the limit loader (Option.CacheLimit: GetQuotaLimit runs in the shared load)
// and for a GetQuotaLimit called directly by the add (no shared load at all): the listener
// hears nothing of the Do, while a panicking Next's Do is told (TestReviewPanickingNextUndoesTheChange).
func TestReview8LimitPanicStillTellsTheListenerOnce(t *testing.T) {
	for _, cacheLimit := range []bool{true, false} {
		t.Run(map[bool]string{true: "CacheLimit", false: "GetQuotaLimit per Do"}[cacheLimit], func(t *testing.T) {
			b := standaloneBackend(t)
			db := newQuotaDB()
			db.put("p2", 10, 4)
			listener := &countingListener{}
			add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) {
				c.GetQuotaLimit = andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) {
					panic("limit lookup bug")
				})
				c.Option.CacheLimit = cacheLimit
				c.Option.Listener = listener
			})
			func() {
				defer func() { _ = recover() }()
				_, _ = add.Do(context.Background(), req("p2", 1))
				t.Error("Do did not panic")
			}()
			assert.Equal(t, int64(1), listener.successes.Load()+listener.errors.Load(), "exactly one listener call per Do")
		})
	}
}
