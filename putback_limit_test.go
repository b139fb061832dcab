package andromeda_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A reduce whose Next fails is put back within the quota's limit: from its GetQuotaLimit,
// else from the limit kept in Redis (an add's Option.CacheLimit); with neither it knows
// no limit and is put back whole, as the README's Known limits say. Each case: limit 1,
// Alice's unit freed by her cancel, taken by Bob while the cancel's Next runs, which fails.
func TestReducePutBackIsBoundedByTheLimitItKnows(t *testing.T) {
	for _, tc := range []struct {
		name      string
		limitFunc bool // the reduce has GetQuotaLimit
		limitKey  bool // the limit is kept in Redis
		want      int64
	}{
		{"GetQuotaLimit", true, false, 1},
		{"limit kept in Redis", false, true, 1},
		{"no limit known", false, false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := standaloneBackend(t)
			ctx := context.Background()
			db := newQuotaDB()
			db.put("pl", 1, 0)
			add := newAdd(b, db, nil)
			_, err := add.Do(ctx, req("pl", 1)) // Alice
			require.NoError(t, err)
			if tc.limitKey {
				require.NoError(t, andromeda.SetQuotaLimit(ctx, b.cache, keyOf("pl"), 1, 0))
			}
			errDelete := errors.New("deleting Alice's claim failed")
			cancel := newReduce(b, db, func(c *andromeda.ReduceQuotaUsageConfig) {
				if tc.limitFunc {
					c.GetQuotaLimit = db.limit()
				}
				c.Next = andromeda.UpdateQuotaUsageFunc(func(ctx context.Context, _ *andromeda.QuotaUsageRequest) (int64, error) {
					_, err := add.Do(ctx, req("pl", 1)) // Bob takes the freed unit
					require.NoError(t, err)
					return 0, errDelete
				})
			})
			_, err = cancel.Do(ctx, req("pl", 1))
			require.ErrorIs(t, err, errDelete)
			assert.Equal(t, tc.want, b.get(t, keyOf("pl")))
			if tc.want == 1 {
				assert.ErrorIs(t, err, andromeda.ErrUndoFailed, "the cancel stays applied: finish its Next")
				assert.NotErrorIs(t, err, andromeda.ErrQuotaLimitExceeded, "the cancel was not refused")
			} else {
				assert.NotErrorIs(t, err, andromeda.ErrUndoFailed)
			}
		})
	}
}
