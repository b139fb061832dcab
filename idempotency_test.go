package andromeda_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func idem(id string, usage int64, key string) *andromeda.QuotaUsageRequest {
	return &andromeda.QuotaUsageRequest{QuotaID: id, Usage: usage, IdempotencyKey: key}
}

// Repeats of one request, at once from 32 goroutines, count once and all report the same
// usage; on a cluster too, whether or not the usage key has a hash tag.
func TestIdempotentRepeatsCountOnce(t *testing.T) {
	untagged := andromeda.GetQuotaKeyFunc(func(_ context.Context, req *andromeda.QuotaRequest) (string, error) {
		return "usage-" + req.QuotaID, nil
	})
	eachBackend(t, func(t *testing.T, b backend) {
		for _, tc := range []struct {
			name string
			key  andromeda.GetQuotaKey
		}{{"tagged", usageKey}, {"untagged", untagged}} {
			t.Run(tc.name, func(t *testing.T) {
				db := newQuotaDB()
				db.put("v1", 100, 10)
				add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) { c.GetQuotaUsageKey = tc.key })
				reduce := newReduce(b, db, func(c *andromeda.ReduceQuotaUsageConfig) { c.GetQuotaUsageKey = tc.key })
				for _, step := range []struct {
					u    andromeda.UpdateQuotaUsage
					key  string
					want int64
				}{{add, "order-1", 13}, {add, "order-2", 16}, {reduce, "refund-1", 13}} {
					var wg sync.WaitGroup
					for g := 0; g < 32; g++ {
						wg.Add(1)
						go func() {
							defer wg.Done()
							usage, err := step.u.Do(context.Background(), idem("v1", 3, step.key))
							assert.NoError(t, err)
							assert.Equal(t, step.want, usage)
						}()
					}
					wg.Wait()
				}
				stored, err := tc.key.Do(context.Background(), &andromeda.QuotaRequest{QuotaID: "v1"})
				require.NoError(t, err)
				assert.Equal(t, int64(13), b.get(t, stored))
			})
		}
	})
}

// The reply is lost after the script ran; the application retries: with an idempotency
// key it counts once, without one it counts twice.
func TestIdempotentRetryAfterLostReply(t *testing.T) {
	b, proxy := faultyBackend(t)
	db := newQuotaDB()
	db.put("v1", 100, 0)
	add := newAdd(b, db, nil)
	ctx := context.Background()
	_, err := add.Do(ctx, req("v1", 1)) // warm: key loaded, script cached
	require.NoError(t, err)

	lostThenRetried := func(r *andromeda.QuotaUsageRequest) (int64, error) {
		proxy.DropReplies(true)
		_, err := add.Do(ctx, r)
		proxy.DropReplies(false)
		require.Error(t, err, "the reply was dropped")
		return add.Do(ctx, r)
	}

	usage, err := lostThenRetried(idem("v1", 5, "order-7"))
	require.NoError(t, err)
	assert.Equal(t, int64(6), usage, "the retry reports the first outcome")
	assert.Equal(t, int64(6), b.get(t, keyOf("v1")), "counted once")

	usage, err = lostThenRetried(req("v1", 5))
	require.NoError(t, err)
	assert.Equal(t, int64(16), usage, "without a key the retry counts again")
	assert.Equal(t, int64(16), b.get(t, keyOf("v1")))
}

// A refusal is remembered: the same request stays refused even after room appears.
func TestIdempotentRefusalIsRemembered(t *testing.T) {
	b := standaloneBackend(t)
	db := newQuotaDB()
	db.put("v1", 10, 8)
	add := newAdd(b, db, nil)
	_, err := add.Do(context.Background(), idem("v1", 5, "order-1"))
	require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded)
	reduce := newReduce(b, db, nil)
	_, err = reduce.Do(context.Background(), req("v1", 8))
	require.NoError(t, err)
	_, err = add.Do(context.Background(), idem("v1", 5, "order-1"))
	require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded)
	var qerr *andromeda.QuotaError
	require.ErrorAs(t, err, &qerr)
	assert.Equal(t, int64(8), qerr.Usage, "the first outcome, usage and all")
	assert.Equal(t, int64(0), b.get(t, keyOf("v1")))
}

// When Next fails, the add and its record are undone, so a retry is a fresh attempt; and
// the undo itself counts once.
func TestIdempotentUndoForgetsTheRecord(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := newQuotaDB()
		db.put("v1", 100, 0)
		fail := true
		add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) {
			c.Next = andromeda.UpdateQuotaUsageFunc(func(context.Context, *andromeda.QuotaUsageRequest) (int64, error) {
				if fail {
					return 0, errNext
				}
				return 0, nil
			})
		})
		_, err := add.Do(context.Background(), idem("v1", 2, "order-1"))
		require.ErrorIs(t, err, errNext)
		assert.Equal(t, int64(0), b.get(t, keyOf("v1")))

		fail = false
		usage, err := add.Do(context.Background(), idem("v1", 2, "order-1"))
		require.NoError(t, err)
		assert.Equal(t, int64(2), usage)
		usage, err = add.Do(context.Background(), idem("v1", 2, "order-1"))
		require.NoError(t, err)
		assert.Equal(t, int64(2), usage, "and now it is recorded")
		assert.Equal(t, int64(2), b.get(t, keyOf("v1")))
	})
}

// The spec's compensation with a key: the claim's reduce, sent twice, gives back once.
func TestIdempotentCompensatingReduce(t *testing.T) {
	b := standaloneBackend(t)
	db := newQuotaDB()
	db.put("v1", 100, 10)
	add, reduce := newAdd(b, db, nil), newReduce(b, db, nil)
	claim := idem("v1", 1, "claim-42")
	_, err := add.Do(context.Background(), claim)
	require.NoError(t, err)
	for i := 0; i < 2; i++ {
		usage, err := reduce.Do(context.Background(), claim)
		require.NoError(t, err)
		assert.Equal(t, int64(10), usage)
	}
	assert.Equal(t, int64(10), b.get(t, keyOf("v1")))
}

// After the retention window, the same key is a new request.
func TestIdempotencyRetention(t *testing.T) {
	b := standaloneBackend(t)
	db := newQuotaDB()
	db.put("v1", 100, 0)
	add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) { c.Option.IdempotencyRetention = 50 * time.Millisecond })
	_, err := add.Do(context.Background(), idem("v1", 1, "k"))
	require.NoError(t, err)
	_, err = add.Do(context.Background(), idem("v1", 1, "k"))
	require.NoError(t, err)
	assert.Equal(t, int64(1), b.get(t, keyOf("v1")))
	time.Sleep(120 * time.Millisecond)
	usage, err := add.Do(context.Background(), idem("v1", 1, "k"))
	require.NoError(t, err)
	assert.Equal(t, int64(2), usage)
}

func TestIdempotencyBadInput(t *testing.T) {
	b := miniredisBackend(t)
	db := newQuotaDB()
	db.put("v1", 100, 0)
	_, err := newAdd(b, db, nil).Do(context.Background(), idem("v1", 1, strings.Repeat("x", 257)))
	require.ErrorIs(t, err, andromeda.ErrInvalidRequest)
	claim := andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: campaignQuotas(50, 2, db)})
	_, err = claim.Do(context.Background(), &andromeda.QuotaUsageRequest{QuotaID: "c", Usage: 1, Data: "ann", IdempotencyKey: "k"})
	require.ErrorIs(t, err, andromeda.ErrInvalidRequest)
	assert.Equal(t, int64(-1), b.get(t, "{campaign-42}:usage"))
}
