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
// would, so the retried insert fails as a duplicate. Usage must still equal the claims
// kept, within the limit.
//
// FAILS: the retried add replays "applied", the insert fails as a duplicate, and the
// compensating reduce takes back the add whose claim the first attempt kept. Usage drops
// to 0 with Alice's claim kept, so Bob's claim is admitted too: 2 claims against a limit
// of 1. The README promises the flow "keeps usage equal to the claims kept" without saying
// that the insert must succeed when the claim is already there; nothing in the library
// tells the flow that the add was a replay (CacheResult.Replayed stays inside).
func TestClaimFlowRetriedAfterALostReply(t *testing.T) {
	b := miniredisBackend(t)
	ctx := context.Background()
	db := newQuotaDB()
	db.put("v1", 1, 0)
	add, reduce := newAdd(b, db, nil), newReduce(b, db, nil)
	kept := map[string]bool{} // the claims table, unique by claim ID
	errDuplicate := errors.New("duplicate claim ID")
	claimFlow := func(r *andromeda.QuotaUsageRequest) error {
		if _, err := add.Do(ctx, r); err != nil {
			return err
		}
		if kept[r.IdempotencyKey] {
			_, err := reduce.Do(ctx, r) // the insert failed: compensate, as the README says
			require.NoError(t, err)
			return errDuplicate
		}
		kept[r.IdempotencyKey] = true
		return nil
	}

	alice := idem("v1", 1, "claim-alice")
	require.NoError(t, claimFlow(alice)) // its reply is lost on the way to Alice's app
	_ = claimFlow(alice)                 // which retries the whole claim
	bob := claimFlow(idem("v1", 1, "claim-bob"))

	assert.LessOrEqual(t, len(kept), 1, "claims kept against a limit of 1")
	assert.Equal(t, int64(len(kept)), b.get(t, keyOf("v1")), "usage equals the claims kept")
	assert.ErrorIs(t, bob, andromeda.ErrQuotaLimitExceeded)
}
