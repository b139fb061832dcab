package specsample_test

import (
	"context"
	"errors"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/redisv9"
	"github.com/ramadani/andromeda/internal/specsample"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func snippetCache(t *testing.T) (andromeda.Cache, *redis.Client) {
	server := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: server.Addr()})
	t.Cleanup(func() { client.Close() })
	return redisv9.New(client), client
}

func constant(n int64) andromeda.GetQuota {
	return andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) { return n, nil })
}

func keyOf(key string) andromeda.GetQuotaKey {
	return andromeda.GetQuotaKeyFunc(func(context.Context, *andromeda.QuotaRequest) (string, error) { return key, nil })
}

type usageDB map[string]int64

func (db usageDB) SetUsage(_ context.Context, id string, usage int64) error {
	db[id] = usage
	return nil
}

// The README's checkout keeps the held units when the order is saved, and gives them back
// when saving fails; the write-back job writes only what Redis holds; forgetting a usage
// makes the next change load it again.
func TestREADMESnippetsRun(t *testing.T) {
	ctx := context.Background()
	cache, client := snippetCache(t)
	limit, usage, key := constant(5), constant(1), keyOf("sku-1:usage")

	require.NoError(t, specsample.Checkout(ctx, cache, limit, usage, key, "order-1",
		func(context.Context, string) error { return nil }))
	assert.Equal(t, "3", client.Get(ctx, "sku-1:usage").Val(), "1 loaded + 2 committed")
	errSave := errors.New("save failed")
	err := specsample.Checkout(ctx, cache, limit, usage, key, "order-2", func(context.Context, string) error { return errSave })
	assert.ErrorIs(t, err, errSave)
	assert.Equal(t, "3", client.Get(ctx, "sku-1:usage").Val(), "the failed order's hold was cancelled")
	err = specsample.Checkout(ctx, cache, limit, usage, key, "order-3", func(context.Context, string) error { return nil })
	require.NoError(t, err)
	err = specsample.Checkout(ctx, cache, limit, usage, key, "order-4", func(context.Context, string) error { return nil })
	assert.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded, "5 of 5 sold")

	require.NoError(t, client.Set(ctx, "voucher-1:usage", 7, 0).Err())
	db := usageDB{}
	byID := andromeda.GetQuotaKeyFunc(func(_ context.Context, q *andromeda.QuotaRequest) (string, error) {
		return q.QuotaID + ":usage", nil
	})
	require.NoError(t, specsample.WriteBack(ctx, cache, byID, db))
	assert.Equal(t, usageDB{"voucher-1": 7}, db, "voucher-2 is not in Redis: nothing written for it")

	require.NoError(t, specsample.RaiseLimit(ctx, cache))
	assert.Equal(t, "150", client.Get(ctx, andromeda.LimitKey("voucher-quota-usage-42")).Val())

	require.NoError(t, client.Set(ctx, "voucher-quota-usage-42", 9, 0).Err())
	forgot, err := specsample.Forget(ctx, cache)
	require.NoError(t, err)
	assert.Equal(t, int64(9), forgot)
	assert.Zero(t, client.Exists(ctx, "voucher-quota-usage-42").Val())

	req := specsample.KeyedClaim("v-1", "claim-1")
	assert.Equal(t, "claim-1", req.IdempotencyKey)
}
