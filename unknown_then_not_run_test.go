package andromeda_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
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
	keys  sync.Map // the keys of every add sent, joined
}

func (c *appliedThenDownCache) RunScript(ctx context.Context, s *andromeda.Script, keys []string, args ...any) (any, error) {
	if s.SHA1() != addSHA {
		return c.Cache.RunScript(ctx, s, keys, args...)
	}
	c.keys.Store(strings.Join(keys, " "), true)
	if c.calls.Add(1) == 1 {
		if _, err := c.Cache.RunScript(ctx, s, keys, args...); err != nil {
			return nil, err
		}
		return nil, errors.New("EOF") // the reply was lost: it may have run
	}
	return nil, fmt.Errorf("%w: connection refused", andromeda.ErrNotSent)
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
	// Retried; the retry (each of its sends, as Redis did not run it) with the same keys.
	assert.GreaterOrEqual(t, cache.calls.Load(), int64(2), "retried")
	sent := 0
	cache.keys.Range(func(any, any) bool { sent++; return true })
	assert.Equal(t, 1, sent, "with the same key")
	assert.Equal(t, int64(1), b.get(t, keyOf("v1")), "and it was applied")
}
