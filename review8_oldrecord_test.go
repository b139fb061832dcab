package andromeda_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// README, "Counting once": "a reduce of another amount than the add's fails with
// ErrInvalidRequest, and so does an add (or a hold's Reserve) of another amount under a key
// already recorded: the first outcome answers only the request it was for (before, an add
// of 5 repeating the key of an add of 1 was told "applied" for 5 units it never got)".
//
// A record written by an older version ("state usage limit", no amount: exact.lua still
// reads it) is a key already recorded, but add.lua and reduce.lua skip the amount check
// for it. During an upgrade (records live an hour by default) the old behaviour is back:
// an add of 5 repeating an add of 1 is told "applied", and a compensating reduce of 3
// takes 3 units back for an add of 1 (usage 5 -> 2: two units sold twice later).
//
// Kept as a known limit (README, Known limits): a record without an amount cannot say
// which amount it was for, and refusing every other amount than 1 would refuse the right
// repeats too; it lasts one retention after an upgrade from a version before records
// carried amounts.
func TestReview8OlderRecordSkipsTheAmountCheck(t *testing.T) {
	t.Skip("known limit: records written before records carried amounts are not checked (README, Known limits)")
	b := standaloneBackend(t)
	db := newQuotaDB()
	db.put("old", 10, 4)
	add := newAdd(b, db, nil)
	reduce := newReduce(b, db, nil)
	key := keyOf("old")
	record := key + ":idempotency:add:claim-1"
	// What an older version left after "add 1 with key claim-1" took the usage 4 -> 5.
	b.set(t, key, 5)
	b.set(t, record, "0 5 10")

	_, addErr := add.Do(context.Background(), &andromeda.QuotaUsageRequest{QuotaID: "old", Usage: 5, IdempotencyKey: "claim-1"})
	t.Logf("add of 5 under the old record of an add of 1: %v; usage %d", addErr, b.get(t, key))

	_, reduceErr := reduce.Do(context.Background(), &andromeda.QuotaUsageRequest{QuotaID: "old", Usage: 3, IdempotencyKey: "claim-1"})
	after := b.get(t, key)
	raw, _ := b.client.Get(context.Background(), record).Result()
	t.Logf("reduce of 3 under the old record: %v; usage %d, record %q", reduceErr, after, raw)

	assert.Error(t, addErr, "an add of 5 is not told applied for a key whose add was of 1")
	assert.False(t, reduceErr == nil && after < 4, "a reduce of 3 is refused (ErrInvalidRequest), not applied: %v", reduceErr)
	_ = errors.Is
	require.True(t, after >= 4, "the compensating reduce takes back at most the one unit the add took (usage %d)", after)
}
