package andromeda_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
)

// GetQuotaLimit is now called inside the undo of a reduce. When it panics there (the
// application's database code, as TestReviewPanickingLoaderIsRecoverable's loader), the
// panic escapes the undo: the listener is never told of the Do (README Guarantee 5:
// "Listeners get exactly one call per Do"), and the reduce stays applied although nothing
// took its freed unit, with no ErrUndoFailed for the caller (Guarantee 4). Now the undo
// is reported failed (the panic stops it: a bug in the application's code is not papered
// over), the listener is told with ErrUndoFailed, and the panic goes on, as Next's does.
func TestReview4PanickingGetQuotaLimitInUndoSkipsTheListener(t *testing.T) {
	b := standaloneBackend(t)
	db := newQuotaDB()
	db.put("pg", 10, 5)
	listener := &countingListener{}
	cancel := newReduce(b, db, func(c *andromeda.ReduceQuotaUsageConfig) {
		c.GetQuotaLimit = andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) {
			panic("database driver bug")
		})
		c.Next = andromeda.UpdateQuotaUsageFunc(func(context.Context, *andromeda.QuotaUsageRequest) (int64, error) {
			return 0, errors.New("deleting the claim failed")
		})
		c.Option.Listener = listener
	})
	var recovered any
	func() {
		defer func() { recovered = recover() }() // as the caller's server does
		_, _ = cancel.Do(context.Background(), req("pg", 2))
	}()
	assert.Equal(t, "database driver bug", recovered, "the panic goes on")
	assert.Equal(t, int64(1), listener.errors.Load()+listener.successes.Load(), "one listener call for the Do")
	err, _ := listener.lastErr.Load().(error)
	assert.ErrorIs(t, err, andromeda.ErrUndoFailed, "the listener hears the reduce stayed applied")
	assert.Equal(t, int64(3), b.get(t, keyOf("pg")), "the reduce stayed applied, as reported")
}
