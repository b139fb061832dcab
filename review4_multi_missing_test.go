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

// Review 4, attack that held: a multi-quota cancel whose Next fails after Alice's own
// usage key went missing (expired, forgotten) is put back on the campaign alone; when Bob
// also took the campaign unit meanwhile, nothing is put back and Do fails with
// ErrUndoFailed (never ErrQuotaLimitExceeded).
func TestReview4MultiPutBackDropsAMissingQuota(t *testing.T) {
	for _, bobTakes := range []bool{false, true} {
		t.Run(fmt.Sprintf("bob takes %v", bobTakes), func(t *testing.T) {
			eachRealBackend(t, func(t *testing.T, b backend) {
				ctx := context.Background()
				userQ := func(_ context.Context, r *andromeda.QuotaRequest) (string, error) {
					return fmt.Sprintf("{r4mm}:user:%v", r.Data), nil
				}
				campQ := func(context.Context, *andromeda.QuotaRequest) (string, error) { return "{r4mm}:usage", nil }
				quotas := []andromeda.Quota{
					{GetQuotaLimit: fixed(1), GetQuotaUsageKey: andromeda.GetQuotaKeyFunc(userQ)},
					{GetQuotaLimit: fixed(2), GetQuotaUsageKey: andromeda.GetQuotaKeyFunc(campQ)},
				}
				claim := andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: quotas})
				alice := &andromeda.QuotaUsageRequest{QuotaID: "c", Usage: 1, Data: "alice"}
				for _, who := range []string{"alice", "carol"} {
					_, err := claim.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "c", Usage: 1, Data: who})
					require.NoError(t, err)
				}
				errNext := errors.New("deleting Alice's claim row failed")
				cancel := andromeda.ReduceMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: quotas,
					Next: andromeda.UpdateQuotaUsageFunc(func(ctx context.Context, _ *andromeda.QuotaUsageRequest) (int64, error) {
						require.NoError(t, b.client.Del(ctx, "{r4mm}:user:alice").Err())
						if bobTakes {
							_, err := claim.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "c", Usage: 1, Data: "bob"})
							assert.NoError(t, err)
						}
						return 0, errNext
					})})
				_, err := cancel.Do(ctx, alice)
				require.ErrorIs(t, err, errNext)
				assert.NotErrorIs(t, err, andromeda.ErrQuotaLimitExceeded)
				assert.Equal(t, int64(-1), b.get(t, "{r4mm}:user:alice"))
				assert.Equal(t, int64(2), b.get(t, "{r4mm}:usage"))
				if bobTakes {
					assert.ErrorIs(t, err, andromeda.ErrUndoFailed)
				} else {
					assert.NotErrorIs(t, err, andromeda.ErrUndoFailed)
				}
			})
		})
	}
}
