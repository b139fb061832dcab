package andromeda_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/redisv9"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Probe (passes). The multi add's undo is one multi reduce. Its reply is lost (a default
// go-redis v9 client through the fault proxy, replies dropped while the undo is sent):
// the client does not resend it, Do says ErrUndoFailed and ErrUnknownOutcome, no sentinel
// that says nothing changed, and both quotas moved together, once (5 -> 6 -> 5).
func TestReview8MultiUndoWithALostReply(t *testing.T) {
	rig := newResendRig(t, func(t *testing.T, addr string) andromeda.Cache {
		client := redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() { client.Close() })
		return redisv9.New(client)
	})
	ctx := context.Background()
	const campKey, userKey = "{r8lost}:usage", "{r8lost}:user:carol"
	require.NoError(t, rig.direct.Set(ctx, campKey, 5, 0).Err())
	require.NoError(t, rig.direct.Set(ctx, userKey, 5, 0).Err())
	insertFails := errors.New("insert failed")
	drop := false
	claim := andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: rig.cache,
		Quotas: []andromeda.Quota{
			{GetQuotaLimit: constLimit(100), GetQuotaUsageKey: constKey(campKey)},
			{GetQuotaLimit: constLimit(10), GetQuotaUsageKey: constKey(userKey)},
		},
		Next: andromeda.UpdateQuotaUsageFunc(func(context.Context, *andromeda.QuotaUsageRequest) (int64, error) {
			rig.proxy.DropReplies(drop)
			return 0, insertFails
		})})
	// A first claim whose undo goes through loads the undo's script into Redis, so that the
	// reply lost below is that of a script that ran (not a NOSCRIPT).
	_, err := claim.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "c", Usage: 1})
	require.ErrorIs(t, err, insertFails)
	require.Equal(t, int64(5), rig.usage(t, campKey))
	drop = true
	_, err = claim.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "c", Usage: 1})
	rig.proxy.DropReplies(false)
	camp, user := rig.usage(t, campKey), rig.usage(t, userKey)
	t.Logf("Do: %v; campaign %d, carol %d", err, camp, user)
	require.ErrorIs(t, err, andromeda.ErrUndoFailed)
	assert.ErrorIs(t, err, andromeda.ErrUnknownOutcome)
	assert.NotErrorIs(t, err, andromeda.ErrRedisUnavailable)
	assert.Equal(t, camp, user, "all or nothing")
	assert.Contains(t, []int64{5, 6}, camp, "undone at most once")
}
