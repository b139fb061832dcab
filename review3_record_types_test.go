package andromeda_test

import (
	"context"
	"testing"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Held: a keyed add whose record key holds another type, or a string andromeda did not
// write, fails with ErrInvalidCachedUsage and changes nothing; a record of an older
// version without attempt replays.
func TestReview3AddRecordForeignValues(t *testing.T) {
	eachRealBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		db := newQuotaDB()
		db.put("rft", 10, 3)
		add := newAdd(b, db, nil)
		_, err := add.Do(ctx, req("rft", 1)) // loads 3, then 4
		require.NoError(t, err)
		record := keyOf("rft") + ":idempotency:add:"
		require.NoError(t, b.client.HSet(ctx, record+"h", "a", "b").Err())
		_, err = add.Do(ctx, idem("rft", 1, "h"))
		assert.ErrorIs(t, err, andromeda.ErrInvalidCachedUsage)
		for _, v := range []string{"x", "0 5", "0 5 10 1 a b c", "7 5 10 1", "0 5.5 10 1", ""} {
			b.set(t, record+"s", v)
			_, err = add.Do(ctx, idem("rft", 1, "s"))
			assert.ErrorIs(t, err, andromeda.ErrInvalidCachedUsage, "record %q", v)
		}
		assert.Equal(t, int64(4), b.get(t, keyOf("rft")), "nothing changed")
		b.set(t, record+"old", "0 9 10 1") // applied, recorded by an older version (no attempt)
		u, err := add.Do(ctx, idem("rft", 1, "old"))
		assert.NoError(t, err)
		assert.Equal(t, int64(9), u)
		assert.Equal(t, int64(4), b.get(t, keyOf("rft")), "a replay changes nothing")
	})
}
