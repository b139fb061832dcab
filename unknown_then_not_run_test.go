package andromeda_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// appliedThenDownCache applies the first add but loses its reply, then is unreachable:
// Redis did not run the retry, but the first attempt was applied.
type appliedThenDownCache struct {
	andromeda.Cache
	calls atomic.Int64
}

func (c *appliedThenDownCache) AddUsage(ctx context.Context, args andromeda.AddUsageArgs) (andromeda.CacheResult, error) {
	if c.calls.Add(1) == 1 {
		if _, err := c.Cache.AddUsage(ctx, args); err != nil {
			return andromeda.CacheResult{}, err
		}
		return andromeda.CacheResult{}, fmt.Errorf("%w: EOF", andromeda.ErrUnknownOutcome)
	}
	return andromeda.CacheResult{}, fmt.Errorf("%w: connection refused", andromeda.ErrRedisUnavailable)
}

// A keyed add whose first attempt may have applied stays of unknown outcome when the
// retry is not run: reporting "not run, nothing changed" would be false (the failover
// tests found such adds applied, their records present).
func TestRetryNotRunAfterUnknownOutcomeStaysUnknown(t *testing.T) {
	b := miniredisBackend(t)
	db := newQuotaDB()
	db.put("v1", 10, 0)
	b.set(t, keyOf("v1"), 0)
	cache := &appliedThenDownCache{Cache: b.cache}
	add := newAdd(backend{cache: cache}, db, nil)
	_, err := add.Do(context.Background(), idem("v1", 1, "order-1"))
	require.ErrorIs(t, err, andromeda.ErrUnknownOutcome)
	assert.Equal(t, int64(2), cache.calls.Load(), "retried once, with the same key")
	assert.Equal(t, int64(1), b.get(t, keyOf("v1")), "and it was applied")
}
