package andromeda_test

import (
	"context"
	"testing"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Do never panics: a nil among the listeners given to Listeners is skipped, and the others
// still get their call.
//
// Failed before the fix in the commit after this test: Listeners(nil) passed construction (the fan-out is a
// non-nil slice) and Do panicked with a nil pointer dereference.
func TestListenersSkipNil(t *testing.T) {
	b := miniredisBackend(t)
	db := newQuotaDB()
	db.put("q", 10, 0)
	var typedNil *countingListener
	counted := &countingListener{}
	for _, listener := range []andromeda.UpdateQuotaUsageListener{
		andromeda.Listeners(nil),
		andromeda.Listeners(counted, nil, typedNil),
	} {
		add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) { c.Option.Listener = listener })
		require.NotPanics(t, func() {
			_, err := add.Do(context.Background(), req("q", 1))
			require.NoError(t, err)
			_, err = add.Do(context.Background(), req("q", 100))
			require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded)
		})
	}
	assert.Equal(t, int64(1), counted.successes.Load())
	assert.Equal(t, int64(1), counted.errors.Load())
}
