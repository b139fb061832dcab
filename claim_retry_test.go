package andromeda_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The README's claim flow (add with the claim's key, insert the claim, on a failed insert
// reduce with the same request), retried as a whole after its reply was lost: the reason
// an application sets an idempotency key. The claims table has a unique claim ID, as any
// would, so the retried insert finds the claim already there. That claim is kept, so the
// flow must not compensate: the compensating reduce takes back the claim's add, whichever
// attempt applied it (the README says so). Usage then equals the claims kept.
//
// It failed while the flow compensated on a duplicate as well: the reduce took back the
// add whose claim the first attempt kept, and Bob's claim was admitted too: 2 claims
// against a limit of 1.
func TestClaimFlowRetriedAfterALostReply(t *testing.T) {
	b := miniredisBackend(t)
	ctx := context.Background()
	db := newQuotaDB()
	db.put("v1", 1, 0)
	add, reduce := newAdd(b, db, nil), newReduce(b, db, nil)
	kept := map[string]bool{} // the claims table, unique by claim ID
	errInsert := errors.New("insert failed")
	failNext := map[string]bool{"claim-carol": true}
	claimFlow := func(r *andromeda.QuotaUsageRequest) error {
		if _, err := add.Do(ctx, r); err != nil {
			return err
		}
		switch {
		case kept[r.IdempotencyKey]:
			return nil // a retry of a claim that was kept: nothing to insert, nothing to take back
		case failNext[r.IdempotencyKey]:
			delete(failNext, r.IdempotencyKey)
			_, err := reduce.Do(ctx, r) // the insert failed: compensate
			require.NoError(t, err)
			return errInsert
		}
		kept[r.IdempotencyKey] = true
		return nil
	}

	carol := idem("v1", 1, "claim-carol")
	require.ErrorIs(t, claimFlow(carol), errInsert) // taken back: the unit is free again
	assert.Equal(t, int64(0), b.get(t, keyOf("v1")))
	alice := idem("v1", 1, "claim-alice")
	require.NoError(t, claimFlow(alice)) // its reply is lost on the way to Alice's app
	require.NoError(t, claimFlow(alice)) // which retries the whole claim
	bob := claimFlow(idem("v1", 1, "claim-bob"))
	carolAgain := claimFlow(carol) // Carol's retry is a fresh attempt, refused: Alice has the unit

	assert.Equal(t, map[string]bool{"claim-alice": true}, kept, "claims kept against a limit of 1")
	assert.Equal(t, int64(len(kept)), b.get(t, keyOf("v1")), "usage equals the claims kept")
	assert.ErrorIs(t, bob, andromeda.ErrQuotaLimitExceeded)
	assert.ErrorIs(t, carolAgain, andromeda.ErrQuotaLimitExceeded)
}
