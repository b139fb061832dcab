package andromeda_test

import (
	"context"
	"testing"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Two quotas chained with Next, the first Irreversible: the second refuses (sold out), and
// the first's add stays counted, as Irreversible asks. Do returns Next's own error, the
// refusal included (AddUsageOption.Irreversible says so): the caller asked for the first
// change to stay, and learns why Next failed.
func TestIrreversibleChainRefusedByNextKeepsTheChange(t *testing.T) {
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
		require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded, "Next's refusal")
		assert.Equal(t, int64(1), b.get(t, keyOf("ir1")), "Irreversible keeps the first add")
		assert.LessOrEqual(t, b.get(t, keyOf("ir2")), int64(0), "the second took nothing")
	})
}
