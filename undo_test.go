package andromeda_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Redis goes away between an add and its Next (a second quota on the same Redis): Next
// fails with ErrRedisUnavailable, and so does the undo of the first add, which therefore
// stays counted. Do's error must not tell the caller "nothing was changed, safe to
// retry" (ErrRedisUnavailable): a caller that retries once Redis is back counts the
// first quota twice.
//
// Failed before the fix: the error wraps ErrRedisUnavailable, Next's
// and the undo's, while the campaign's usage is 1; the caller's retry makes it 2 for one
// claim.
func TestFailedUndoIsNotRedisUnavailable(t *testing.T) {
	redistest.Require(t)
	rig := newResendRig(t, defaultClientCaches[0].cache)
	const campaign, user = "undo:{c}:campaign", "undo:{c}:user"
	second := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: rig.cache, GetQuotaLimit: constLimit(10), GetQuotaUsageKey: constKey(user)})
	down := true
	add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: rig.cache, GetQuotaLimit: constLimit(10), GetQuotaUsageKey: constKey(campaign),
		Next: andromeda.UpdateQuotaUsageFunc(func(ctx context.Context, req *andromeda.QuotaUsageRequest) (int64, error) {
			if down { // Redis goes away right after the first add
				rig.proxy.Refuse(true)
				rig.proxy.CutAll()
			}
			return second.Do(ctx, req)
		})})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := add.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: 1})
	require.Error(t, err)
	t.Logf("error: %v", err)
	assert.Equal(t, int64(1), rig.usage(t, campaign), "the undo failed: the first add is still counted")
	assert.Zero(t, rig.usage(t, user))
	if assert.False(t, errors.Is(err, andromeda.ErrRedisUnavailable),
		"a change is applied: the error must not say that nothing was changed") {
		return
	}
	// What a caller who trusts ErrRedisUnavailable does: retry once Redis is back.
	down = false
	rig.proxy.Refuse(false)
	_, err = add.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: 1})
	require.NoError(t, err)
	assert.Equal(t, int64(1), rig.usage(t, campaign), "one claim counted once on the campaign")
}

// A keyed add whose first attempt was applied (its reply lost) and whose retry Redis did
// not run: the outcome is unknown, and the error must not also claim that nothing was
// changed. A caller that switches on ErrRedisUnavailable before ErrUnknownOutcome would
// take the applied add for one that never happened.
//
// Failed before the fix: the error wraps both ErrUnknownOutcome and
// ErrRedisUnavailable.
func TestUnknownThenNotRunIsNotRedisUnavailable(t *testing.T) {
	redistest.Require(t)
	rig := newResendRig(t, defaultClientCaches[0].cache)
	const key = "unk:{q}:usage"
	cache := &appliedThenDownCache{Cache: rig.cache}
	add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: cache, GetQuotaLimit: constLimit(10), GetQuotaUsageKey: constKey(key)})
	_, err := add.Do(context.Background(), &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: 1, IdempotencyKey: "order-1"})
	t.Logf("error: %v", err)
	require.ErrorIs(t, err, andromeda.ErrUnknownOutcome)
	assert.Equal(t, int64(1), rig.usage(t, key), "the first attempt was applied")
	assert.NotErrorIs(t, err, andromeda.ErrRedisUnavailable, "a change is applied: the error must not say that nothing was changed")
}

// Next refuses (the second quota is full), and Redis goes away before the first add is
// undone: the first add stays counted, but Do's error wraps ErrQuotaLimitExceeded, the
// answer of a claim that took nothing. A caller that shows "sold out" on it leaves a unit
// of the first quota counted for a claim that was never made, and cannot tell this case
// from a clean refusal by errors.Is.
//
// It wraps ErrUndoFailed instead (it wrapped ErrQuotaLimitExceeded before).
func TestRefusedNextWithFailedUndoIsNotARefusal(t *testing.T) {
	redistest.Require(t)
	rig := newResendRig(t, defaultClientCaches[0].cache)
	const campaign, user = "refuse:{c}:campaign", "refuse:{c}:user"
	second := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: rig.cache, GetQuotaLimit: constLimit(0), GetQuotaUsageKey: constKey(user)})
	add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: rig.cache, GetQuotaLimit: constLimit(10), GetQuotaUsageKey: constKey(campaign),
		Next: andromeda.UpdateQuotaUsageFunc(func(ctx context.Context, req *andromeda.QuotaUsageRequest) (int64, error) {
			_, err := second.Do(ctx, req)
			rig.proxy.Refuse(true) // Redis goes away before the undo
			rig.proxy.CutAll()
			return 0, err
		})})
	_, err := add.Do(context.Background(), &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: 1})
	require.Error(t, err)
	t.Logf("error: %v", err)
	assert.Equal(t, int64(1), rig.usage(t, campaign), "the undo failed: the first add is still counted")
	assert.NotErrorIs(t, err, andromeda.ErrQuotaLimitExceeded, "a change is applied: the error must not be a plain refusal")
	assert.ErrorIs(t, err, andromeda.ErrUndoFailed)
	assert.Contains(t, err.Error(), "quota limit exceeded", "Next's refusal is still told")
}
