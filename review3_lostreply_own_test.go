package andromeda_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/redisv9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Held: a keyed reduce with its own record (no add under its key) whose reply is lost,
// while Bob takes the freed unit: the resend replays the recorded usage, so the put-back
// is refused (ErrUndoFailed, not ErrQuotaLimitExceeded), usage stays 1.
func TestReview3LostReplyOwnRecordPutBackHolds(t *testing.T) {
	direct, proxied, proxy := lossyRig(t)

	ctx := context.Background()
	db := newQuotaDB()
	db.put("lro", 1, 0)
	bobAdd := newAdd(direct, db, nil)
	wrapped := &dropOnce{Cache: redisv9.New(proxied), proxy: proxy}
	wrapped.between = func() {
		_, err := bobAdd.Do(ctx, req("lro", 1))
		assert.NoError(t, err)
	}
	lossy := backend{name: "lossy", real: true, client: direct.client, cache: wrapped}
	_, err := newAdd(lossy, db, nil).Do(ctx, req("lro", 1)) // Alice's claim, no key
	require.NoError(t, err)
	db.put("lro-warm", 5, 1)
	_, err = newReduce(lossy, db, nil).Do(ctx, idem("lro-warm", 1, "warm"))
	require.NoError(t, err)

	cancel := newReduce(lossy, db, func(c *andromeda.ReduceQuotaUsageConfig) {
		c.GetQuotaLimit = db.limit() // bounds the undo
		c.Next = andromeda.UpdateQuotaUsageFunc(func(context.Context, *andromeda.QuotaUsageRequest) (int64, error) {
			return 0, errors.New("deleting Alice's claim row failed")
		})
	})
	wrapped.armed.Store(true)
	_, err = cancel.Do(ctx, idem("lro", 1, "refund-alice"))
	t.Logf("cancel Do: %v", err)
	assert.ErrorIs(t, err, andromeda.ErrUndoFailed)
	assert.NotErrorIs(t, err, andromeda.ErrQuotaLimitExceeded)
	var qerr *andromeda.QuotaError
	assert.False(t, errors.As(err, &qerr) && errors.Is(qerr.Err, andromeda.ErrQuotaLimitExceeded))
	assert.Equal(t, int64(1), direct.get(t, keyOf("lro")))
}
