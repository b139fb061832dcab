package andromeda_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAddWithinLimit(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := newQuotaDB()
		db.put("v1", 10, 4)
		add := newAdd(b, db, nil)

		usage, err := add.Do(context.Background(), req("v1", 6))
		require.NoError(t, err)
		assert.Equal(t, int64(10), usage, "loaded 4 from the database, then added 6")
		assert.Equal(t, int64(10), b.get(t, keyOf("v1")))
	})
}

func TestAddBeyondLimitChangesNothing(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := newQuotaDB()
		db.put("v1", 100, 0)
		b.set(t, keyOf("v1"), 95)
		add := newAdd(b, db, nil)

		usage, err := add.Do(context.Background(), req("v1", 10))
		require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded)
		assert.Zero(t, usage)
		var qerr *andromeda.QuotaError
		require.ErrorAs(t, err, &qerr)
		assert.Equal(t, andromeda.QuotaError{Op: "add", QuotaID: "v1", Key: keyOf("v1"), Requested: 10, Limit: 100, Usage: 95,
			Err: andromeda.ErrQuotaLimitExceeded}, *qerr)
		assert.Equal(t, `andromeda: add 10 to quota "v1" (key "quota:{v1}:usage"): quota limit exceeded (usage 95, limit 100)`, err.Error())
		assert.Equal(t, int64(95), b.get(t, keyOf("v1")))

		usage, err = add.Do(context.Background(), req("v1", 5))
		require.NoError(t, err, "exactly up to the limit fits")
		assert.Equal(t, int64(100), usage)
	})
}

func TestAddWithoutLoaderStartsMissingKeyAtZero(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := newQuotaDB()
		db.put("v1", 10, 7) // not read: there is no loader
		add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) { c.GetQuotaUsage = nil })

		usage, err := add.Do(context.Background(), req("v1", 3))
		require.NoError(t, err)
		assert.Equal(t, int64(3), usage)
		assert.Zero(t, db.loads.Load())
		ttl, err := b.client.PTTL(context.Background(), keyOf("v1")).Result()
		require.NoError(t, err)
		assert.Greater(t, ttl.Minutes(), 59.0, "the key is created with GetQuotaUsageExpiration")
	})
}

// N concurrent claims of 1 against limit L admit exactly L, and the stored usage is L.
func TestConcurrentClaimsAdmitExactlyTheLimit(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		const claims, limit = 500, 137
		db := newQuotaDB()
		db.put("flash", limit, 0)
		listener := &countingListener{}
		add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) { c.Option.Listener = listener })

		var admitted, soldOut atomic.Int64
		var wg sync.WaitGroup
		sem := make(chan struct{}, 64)
		for i := 0; i < claims; i++ {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				_, err := add.Do(context.Background(), req("flash", 1))
				switch {
				case err == nil:
					admitted.Add(1)
				case errors.Is(err, andromeda.ErrQuotaLimitExceeded):
					soldOut.Add(1)
				default:
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		assert.Equal(t, int64(limit), admitted.Load())
		assert.Equal(t, int64(claims-limit), soldOut.Load())
		assert.Equal(t, int64(limit), b.get(t, keyOf("flash")))
		assert.Equal(t, int64(limit), listener.successes.Load())
		assert.Equal(t, int64(claims-limit), listener.errors.Load())
		assert.Equal(t, int64(1), db.loads.Load(), "the cold key is loaded once")
	})
}

// Usage 95 of 100: one request of 5 races 15 requests of 10. Nothing can be admitted
// but the 5, and it must be admitted every time: a check-then-rollback design would
// sometimes reject it while a 10 is being rolled back.
func TestSmallRequestThatFitsIsNeverRejected(t *testing.T) {
	eachRealBackend(t, func(t *testing.T, b backend) {
		db := newQuotaDB()
		db.put("v1", 100, 95)
		add := newAdd(b, db, nil)
		ctx := context.Background()
		for trial := 0; trial < 200; trial++ {
			b.set(t, keyOf("v1"), 95)
			start := make(chan struct{})
			var wg sync.WaitGroup
			var fiveErr error
			var tensAdmitted atomic.Int64
			for i := 0; i < 16; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					<-start
					if i == 0 {
						_, fiveErr = add.Do(ctx, req("v1", 5))
						return
					}
					if _, err := add.Do(ctx, req("v1", 10)); err == nil {
						tensAdmitted.Add(1)
					} else if !errors.Is(err, andromeda.ErrQuotaLimitExceeded) {
						t.Error(err)
					}
				}(i)
			}
			close(start)
			wg.Wait()
			require.NoError(t, fiveErr, "trial %d: the request of 5 fits and must be admitted", trial)
			require.Zero(t, tensAdmitted.Load(), "trial %d", trial)
			require.Equal(t, int64(100), b.get(t, keyOf("v1")), "trial %d", trial)
		}
	})
}

func TestListenerIsCalledOncePerDo(t *testing.T) {
	b := miniredisBackend(t)
	db := newQuotaDB()
	db.put("v1", 2, 0)
	listener := &countingListener{}
	add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) { c.Option.Listener = listener })
	ctx := context.Background()

	_, err := add.Do(ctx, req("v1", 2))
	require.NoError(t, err)
	assert.Equal(t, int64(1), listener.successes.Load())
	assert.Equal(t, int64(2), listener.lastUsage.Load())

	_, err = add.Do(ctx, req("v1", 1))
	require.Error(t, err)
	_, err = add.Do(ctx, nil)
	require.Error(t, err)
	assert.Equal(t, int64(1), listener.successes.Load())
	assert.Equal(t, int64(2), listener.errors.Load())
	assert.ErrorIs(t, listener.lastErr.Load().(error), andromeda.ErrInvalidRequest)
}

func TestListenersFanOut(t *testing.T) {
	b := miniredisBackend(t)
	db := newQuotaDB()
	db.put("v1", 1, 0)
	first, second := &countingListener{}, &countingListener{}
	var funcCalls atomic.Int64
	add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) {
		c.Option.Listener = andromeda.Listeners(first, second, andromeda.ListenerFuncs{
			Error: func(context.Context, *andromeda.QuotaUsageRequest, error) { funcCalls.Add(1) },
		})
	})
	_, _ = add.Do(context.Background(), req("v1", 1))
	_, _ = add.Do(context.Background(), req("v1", 1))
	for _, l := range []*countingListener{first, second} {
		assert.Equal(t, int64(1), l.successes.Load())
		assert.Equal(t, int64(1), l.errors.Load())
	}
	assert.Equal(t, int64(1), funcCalls.Load())
}
