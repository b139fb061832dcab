package andromeda_test

import (
	"context"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// QuotaHolds' doc: "the key that names one claim names its hold, and a repeat with it
// replays, as for any keyed change"; the README on keys: "a repeat returns the first
// outcome, the same usage or the same kind of error, and changes nothing", and "a repeat
// of a refused add must get the refusal, the first outcome, not an admission because a
// unit came back meanwhile". A refused Reserve is not recorded: its repeat, after a unit
// came back, is admitted and changes the usage.
func TestReview2RepeatOfARefusedReserveReplaysTheRefusal(t *testing.T) {
	eachRealBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		db := newQuotaDB()
		db.put("hr", 1, 0)
		holds := newHolds(b, db, time.Minute)
		_, err := holds.Reserve.Do(ctx, idem("hr", 1, "order-1"))
		require.NoError(t, err)
		_, err = holds.Reserve.Do(ctx, idem("hr", 1, "order-2"))
		require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded)
		_, err = holds.Cancel.Do(ctx, idem("hr", 0, "order-1")) // a unit comes back
		require.NoError(t, err)

		usage, err := holds.Reserve.Do(ctx, idem("hr", 1, "order-2")) // the repeat
		t.Logf("repeat of the refused reserve: usage %d, err %v", usage, err)
		assert.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded, "the repeat must replay the first outcome, the refusal")
		assert.Zero(t, b.get(t, keyOf("hr")), "and change nothing")
	})
}
