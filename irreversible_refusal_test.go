package andromeda_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Two quotas chained with Next, the first Irreversible: the second refuses (sold out), and
// the first's add stays counted, as Irreversible says. Do's error then must not wrap a
// sentinel that says nothing changed (errors.go: ErrQuotaLimitExceeded "nothing changed";
// update_quota_usage.go: "Next's 'nothing changed' is not Do's"; still_counted.go).
//
// FAILS: Do's error wraps ErrQuotaLimitExceeded (stillCounted detaches only
// ErrRedisUnavailable) while the first quota counts the add.
func TestIrreversibleChainRefusedByNextSaysStillCounted(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := newQuotaDB()
		db.put("ir1", 10, 0)
		db.put("ir2", 0, 0) // sold out
		second := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) {
			c.GetQuotaUsageKey = constKey(keyOf("ir2"))
			c.GetQuotaLimit = constLimit(0)
		})
		first := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) {
			c.Next = second
			c.Option.Irreversible = true
		})
		_, err := first.Do(context.Background(), req("ir1", 1))
		require.Error(t, err)
		counted := b.get(t, keyOf("ir1"))
		require.Equal(t, int64(1), counted, "Irreversible keeps the first add")
		assert.False(t, errors.Is(err, andromeda.ErrQuotaLimitExceeded),
			"Do's error says nothing changed (ErrQuotaLimitExceeded) while the add stays counted: %v", err)
	})
}
