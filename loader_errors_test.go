package andromeda_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// unreachableLock is a transport whose loader lock cannot be taken: Redis refuses the
// connection (the request is never sent), while scripts still run.
type unreachableLock struct{ andromeda.Cache }

func (c unreachableLock) Lock(context.Context, string, time.Duration) (string, func(context.Context) error, error) {
	return "", nil, fmt.Errorf("%w: dial tcp: connection refused", andromeda.ErrNotSent)
}

// A lock that cannot be taken because Redis is unreachable fails the Do at once with
// ErrRedisUnavailable: only a lock held elsewhere, or a load that ran out of LockIn, is
// waited for (ErrLockedKey). The loader's own LockIn-long context ends when the lock call
// returns; that is not running out of time.
func TestUnreachableLockFailsAtOnce(t *testing.T) {
	b := miniredisBackend(t)
	db := newQuotaDB()
	db.put("q", 10, 3)
	add := newAdd(backend{cache: unreachableLock{b.cache}}, db, func(c *andromeda.AddQuotaUsageConfig) {
		c.GetQuotaUsageConfig = andromeda.GetQuotaUsageConfig{LockIn: 2 * time.Second}
	})
	started := time.Now()
	_, err := add.Do(context.Background(), req("q", 1))
	took := time.Since(started)
	require.ErrorIs(t, err, andromeda.ErrRedisUnavailable)
	assert.NotErrorIs(t, err, andromeda.ErrLockedKey, "not waited for as a lock held elsewhere")
	assert.Less(t, took, time.Second, "failed at once, not after twice LockIn")
}
