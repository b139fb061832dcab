package andromeda_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A keyed add is applied; Next takes longer than the record's retention (or Redis evicts
// the record: under a volatile-* maxmemory policy records, having an expiration, go
// first) and fails. The undo is a reduce that looks for the add's record, finds none and
// replies "no add to undo", changing nothing. Do must not then report a plain failure:
// the add is still counted, which is ErrUndoFailed's case (errors.go: "taking the change
// back failed too, so the change is still counted").
//
// failed before the fix in the same commit (now passes): Do returned Next's error alone, no ErrUndoFailed, and the usage stayed at 1: the
// caller, told the claim failed, retries and counts it twice.
func TestUndoAfterTheAddsRecordIsGone(t *testing.T) {
	eachRealBackend(t, func(t *testing.T, b backend) {
		db := newQuotaDB()
		db.put("rg", 10, 0)
		errNext := errors.New("insert failed")
		add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) {
			c.Option.IdempotencyRetention = 30 * time.Millisecond
			c.Next = andromeda.UpdateQuotaUsageFunc(func(context.Context, *andromeda.QuotaUsageRequest) (int64, error) {
				time.Sleep(150 * time.Millisecond) // the record expires meanwhile
				return 0, errNext
			})
		})
		_, err := add.Do(context.Background(), &andromeda.QuotaUsageRequest{QuotaID: "rg", Usage: 1, IdempotencyKey: "order-9"})
		require.ErrorIs(t, err, errNext)
		usage := b.get(t, keyOf("rg"))
		if !errors.Is(err, andromeda.ErrUndoFailed) {
			assert.Zero(t, usage, "Do reported Next's error alone, so the add must be gone; err: %v", err)
		}
	})
}

// The same for a keyed reduce of its own (a refund ID no add recorded): its record is
// gone when Next fails, the put-back finds nothing to put back and changes nothing.
//
// failed before the fix in the same commit (now passes): Do returned Next's error alone and the usage stayed reduced (4 of 5).
func TestPutBackAfterTheReducesRecordIsGone(t *testing.T) {
	eachRealBackend(t, func(t *testing.T, b backend) {
		db := newQuotaDB()
		db.put("pg", 10, 5)
		b.set(t, keyOf("pg"), 5)
		errNext := errors.New("refund row failed")
		reduce := newReduce(b, db, func(c *andromeda.ReduceQuotaUsageConfig) {
			c.Option.IdempotencyRetention = 30 * time.Millisecond
			c.Next = andromeda.UpdateQuotaUsageFunc(func(context.Context, *andromeda.QuotaUsageRequest) (int64, error) {
				time.Sleep(150 * time.Millisecond) // the record expires meanwhile
				return 0, errNext
			})
		})
		_, err := reduce.Do(context.Background(), &andromeda.QuotaUsageRequest{QuotaID: "pg", Usage: 1, IdempotencyKey: "refund-9"})
		require.ErrorIs(t, err, errNext)
		usage := b.get(t, keyOf("pg"))
		if !errors.Is(err, andromeda.ErrUndoFailed) {
			assert.Equal(t, int64(5), usage, "Do reported Next's error alone, so the reduce must be put back; err: %v", err)
		}
	})
}
