package andromeda_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Probe (passes). README, Guarantee 4: "If the undo fails too, the error wraps
// ErrUndoFailed (the change is still counted) and no sentinel that says nothing changed,
// not even Next's own refusal." The multi add's undo is now one all-or-nothing multi
// reduce: when a plain reduce took the user's quota to 0 while Next ran, the undo would
// go below zero there, so nothing is undone (the campaign keeps the unit too) and Do says
// ErrUndoFailed, without ErrInvalidMinQuotaUsage and without Next's ErrQuotaLimitExceeded.
// The listener hears of the Do once, with the same error.
func TestReview8MultiUndoBelowZeroSaysStillCounted(t *testing.T) {
	runOn(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		const campKey, userKey = "{r8camp}:usage", "{r8camp}:user:alice"
		quotas := []andromeda.Quota{
			{GetQuotaLimit: constLimit(100), GetQuotaUsageKey: constKey(campKey)},
			{GetQuotaLimit: constLimit(2), GetQuotaUsageKey: constKey(userKey)},
		}
		userReduce := andromeda.ReduceQuotaUsage(andromeda.ReduceQuotaUsageConfig{Cache: b.cache, GetQuotaUsageKey: constKey(userKey)})
		listener := &countingListener{}
		claim := andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: quotas,
			Option: andromeda.MultiQuotaUsageOption{Listener: listener},
			Next: andromeda.UpdateQuotaUsageFunc(func(ctx context.Context, r *andromeda.QuotaUsageRequest) (int64, error) {
				// An operator's correction of the user's quota lands while the insert runs.
				_, err := userReduce.Do(ctx, req("alice", 1))
				require.NoError(t, err)
				return 0, fmt.Errorf("second step refused: %w", andromeda.ErrQuotaLimitExceeded)
			})})
		_, err := claim.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "c", Usage: 1})
		camp, user := b.get(t, campKey), b.get(t, userKey)
		t.Logf("Do: %v; campaign %d, alice %d", err, camp, user)
		require.ErrorIs(t, err, andromeda.ErrUndoFailed)
		assert.NotErrorIs(t, err, andromeda.ErrInvalidMinQuotaUsage, "no sentinel that says nothing changed")
		assert.NotErrorIs(t, err, andromeda.ErrQuotaLimitExceeded, "not even Next's own refusal")
		assert.Equal(t, int64(1), camp, "all or nothing: the campaign still counts the claim, as the error says")
		assert.Equal(t, int64(0), user)
		assert.Equal(t, int64(1), listener.errors.Load()+listener.successes.Load(), "one listener call")
	}, miniredisStarter, standaloneStarter)
}

// Probe (passes). The undo drops a quota whose usage went missing (forgotten while Next
// ran) and takes the claim back from the others in one step: Do says Next's error alone.
func TestReview8MultiUndoDropsAForgottenQuota(t *testing.T) {
	runOn(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		const campKey, userKey = "{r8drop}:usage", "{r8drop}:user:bob"
		quotas := []andromeda.Quota{
			{GetQuotaLimit: constLimit(100), GetQuotaUsageKey: constKey(campKey)},
			{GetQuotaLimit: constLimit(2), GetQuotaUsageKey: constKey(userKey)},
		}
		insertFails := fmt.Errorf("insert failed")
		claim := andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: quotas,
			Next: andromeda.UpdateQuotaUsageFunc(func(ctx context.Context, r *andromeda.QuotaUsageRequest) (int64, error) {
				_, _, err := andromeda.ForgetUsage(ctx, b.cache, userKey)
				require.NoError(t, err)
				return 0, insertFails
			})})
		b.set(t, campKey, 5)
		_, err := claim.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "c", Usage: 1})
		t.Logf("Do: %v; campaign %d, bob %d", err, b.get(t, campKey), b.get(t, userKey))
		require.ErrorIs(t, err, insertFails)
		assert.NotErrorIs(t, err, andromeda.ErrUndoFailed)
		assert.Equal(t, int64(5), b.get(t, campKey), "the campaign's unit is given back")
		assert.Equal(t, int64(-1), b.get(t, userKey), "the forgotten quota stays absent")
	}, miniredisStarter, standaloneStarter)
}
