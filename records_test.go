package andromeda_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Idempotency records are keys andromeda keeps beside a usage; what someone else wrote
// there must be reported like a foreign usage (ErrInvalidCachedUsage naming the key), and
// change nothing.
//
// Failed before the fix in cd223f2: a record key of another type (a hash) gave Redis's raw
// WRONGTYPE script error, for the add's record and for the add record a keyed reduce reads.
func TestIdempotencyRecordOfAnotherTypeIsReported(t *testing.T) {
	runOn(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		db := newQuotaDB()
		db.put("q", 10, 0)
		add, reduce := newAdd(b, db, nil), newReduce(b, db, nil)
		key := keyOf("q")
		record := key + ":idempotency:add:k1" // the record of an add with key k1 (see keys.go)
		for name, op := range map[string]andromeda.UpdateQuotaUsage{"add": add, "reduce": reduce} {
			b.flush(t)
			b.set(t, key, 3)
			require.NoError(t, b.client.HSet(ctx, record, "f", "1").Err())
			before := snapshot(t, b, key, record)
			_, err := op.Do(ctx, idem("q", 1, "k1"))
			require.ErrorIs(t, err, andromeda.ErrInvalidCachedUsage, name)
			assert.Contains(t, err.Error(), strconv.Quote(record), name)
			assert.Equal(t, before, snapshot(t, b, key, record), name)
		}
	}, miniredisStarter, standaloneStarter)
}

// Failed before the fix in cd223f2: records andromeda cannot have written were trusted.
// "0 -5 10 1" made a keyed add succeed reporting usage -5 (and a keyed reduce take back 1
// from the usage); a usage of 10^20 in a record came back as -9223372036854775808 on real
// Redis; a state other than 0, 2, 11 or 12 ("5", "00") was taken for "taken back", so the
// add was applied afresh and the record overwritten; "05" replayed usage 5. A reduce's own
// record "0 -5" replayed -5.
func TestForeignIdempotencyRecordsAreReported(t *testing.T) {
	runOn(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		db := newQuotaDB()
		db.put("q", 10, 0)
		add, reduce := newAdd(b, db, nil), newReduce(b, db, nil)
		key := keyOf("q")
		addRecord := key + ":idempotency:add:k1"
		reduceRecord := key + ":idempotency:reduce:k2"
		cases := []struct {
			op     string
			record string
			raw    string
		}{
			{"add", addRecord, "0 -5 10 1"},
			{"add", addRecord, "0 99999999999999999999 10 1"},
			{"add", addRecord, "5 1 10 1"},
			{"add", addRecord, "00 3 10 1"},
			{"add", addRecord, "0 05 10 1"},
			{"reduce", addRecord, "0 -5 10 1"},
			{"reduce", addRecord, "0 3 10 99999999999999999999"},
			{"reduce", reduceRecord, "0 -5"},
			{"reduce", reduceRecord, "0 99999999999999999999"},
			{"reduce", reduceRecord, "1 5"},
		}
		for _, tc := range cases {
			b.flush(t)
			b.set(t, key, 3)
			b.set(t, tc.record, tc.raw)
			before := snapshot(t, b, key, tc.record)
			var err error
			if tc.op == "add" {
				_, err = add.Do(ctx, idem("q", 1, "k1"))
			} else if tc.record == addRecord {
				_, err = reduce.Do(ctx, idem("q", 1, "k1"))
			} else {
				_, err = reduce.Do(ctx, idem("q", 1, "k2"))
			}
			if assert.ErrorIs(t, err, andromeda.ErrInvalidCachedUsage, "%s with record %q", tc.op, tc.raw) {
				assert.Contains(t, err.Error(), strconv.Quote(tc.record))
			}
			assert.Equal(t, before, snapshot(t, b, key, tc.record), "%s with record %q changed nothing", tc.op, tc.raw)
		}
	}, miniredisStarter, standaloneStarter)
}
