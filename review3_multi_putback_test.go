package andromeda_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// README, Guarantee 4: "A reduce is put back only within the usage it started from: if
// others' adds took the units it freed while its Next ran, putting it back would oversell,
// so the reduce stays applied and Do fails with ErrUndoFailed: finish what Next was doing
// (delete the claim) rather than retrying it." And ReduceMultiQuotaUsage: "all or nothing".
//
// A multi-quota reduce (Alice's per-user quota, then the campaign's) is undone quota by
// quota: Alice's own quota is put back, the campaign's is refused because Bob took the
// campaign unit. The reduce is then neither applied nor undone: Alice's per-user quota
// counts a claim that, as told, is then deleted, so Alice is refused for good ("sold out")
// although she holds nothing.
func TestReview3MultiReduceUndoIsHalfDone(t *testing.T) {
	eachRealBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		userQ := func(_ context.Context, r *andromeda.QuotaRequest) (string, error) {
			return fmt.Sprintf("{r3camp}:user:%v", r.Data), nil
		}
		campQ := func(context.Context, *andromeda.QuotaRequest) (string, error) { return "{r3camp}:usage", nil }
		quotas := []andromeda.Quota{
			{GetQuotaLimit: fixed(1), GetQuotaUsageKey: andromeda.GetQuotaKeyFunc(userQ)}, // 1 per user
			{GetQuotaLimit: fixed(1), GetQuotaUsageKey: andromeda.GetQuotaKeyFunc(campQ)}, // 1 in the campaign
		}
		claim := andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: quotas})
		cancelPlain := andromeda.ReduceMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: quotas})
		alice := &andromeda.QuotaUsageRequest{QuotaID: "c", Usage: 1, Data: "alice"}
		bob := &andromeda.QuotaUsageRequest{QuotaID: "c", Usage: 1, Data: "bob"}

		_, err := claim.Do(ctx, alice)
		require.NoError(t, err)

		errDelete := errors.New("deleting Alice's claim row failed")
		cancel := andromeda.ReduceMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: quotas,
			Next: andromeda.UpdateQuotaUsageFunc(func(ctx context.Context, _ *andromeda.QuotaUsageRequest) (int64, error) {
				_, err := claim.Do(ctx, bob) // Bob takes the campaign unit Alice's cancel freed
				assert.NoError(t, err)
				return 0, errDelete
			})})
		_, err = cancel.Do(ctx, alice)
		require.ErrorIs(t, err, andromeda.ErrUndoFailed)
		t.Logf("cancel Do: %v", err)
		t.Logf("after the undo: user:alice=%d user:bob=%d campaign=%d",
			b.get(t, "{r3camp}:user:alice"), b.get(t, "{r3camp}:user:bob"), b.get(t, "{r3camp}:usage"))
		// "the reduce stays applied": Alice's quota must still be reduced (0), as the campaign's is.
		assert.Equal(t, int64(0), b.get(t, "{r3camp}:user:alice"),
			"the reduce was undone on Alice's quota only: neither applied nor undone")

		// As told, the caller finishes Next's work: Alice's claim row is deleted. Bob then
		// cancels; the campaign has a free unit and Alice holds no claim.
		_, err = cancelPlain.Do(ctx, bob)
		require.NoError(t, err)
		_, err = claim.Do(ctx, alice)
		assert.NoError(t, err, "Alice holds no claim and the campaign has 1 free unit, yet she is refused")
	})
}
