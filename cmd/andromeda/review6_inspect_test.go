package main

import (
	"context"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Review 6. README, Operating a quota: inspect "exits with 0 on success, 1 when Redis
// failed or a key holds something andromeda did not write". The library takes a hold
// bucket's sum as its own up to 18 digits (holds_release.lua), and writes sums above 2^53
// itself: a hold of 2^53, a plain reduce that gives the held units back (a refund, which
// the QuotaHolds doc allows), and a hold of 1 in the same bucket sum to 2^53+1. inspect
// reads bucket sums with scripts.ParseUsage (at most 2^53), so it calls andromeda's own
// buckets foreign, shows no holds, and exits 1, while every library call on the quota
// (ReadCachedUsages included) takes them as they are.
func TestReview6InspectReadsOwnBucketSums(t *testing.T) {
	tg := standalone(t)
	ctx := context.Background()
	const key = "r6-sale"
	const max = int64(andromeda.MaxAmount)
	require.NoError(t, tg.client.Set(ctx, key, 0, 0).Err())
	limitMax := andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) { return max, nil })
	keyFn := andromeda.GetQuotaKeyFunc(func(context.Context, *andromeda.QuotaRequest) (string, error) { return key, nil })
	holds := andromeda.NewQuotaHolds(andromeda.QuotaHoldsConfig{Cache: tg.cache, HoldFor: 64 * time.Hour,
		Quota: andromeda.Quota{GetQuotaLimit: limitMax, GetQuotaUsageKey: keyFn}})
	reduce := andromeda.ReduceQuotaUsage(andromeda.ReduceQuotaUsageConfig{Cache: tg.cache, GetQuotaUsageKey: keyFn})

	_, err := holds.Reserve.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: key, Usage: max, IdempotencyKey: "big"})
	require.NoError(t, err)
	_, err = reduce.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: key, Usage: max}) // a refund
	require.NoError(t, err)
	_, err = holds.Reserve.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: key, Usage: 1, IdempotencyKey: "small"})
	require.NoError(t, err)

	// The library reads it: usage 1, all of it held.
	read, err := andromeda.ReadCachedUsages(ctx, tg.cache, keyFn, []*andromeda.QuotaRequest{{QuotaID: key}})
	require.NoError(t, err)
	assert.Equal(t, andromeda.CachedUsage{QuotaID: key, Key: key, Usage: 0, Held: 1, Found: true}, read[0])

	r := tg.cli("inspect", key)
	assert.Equal(t, 0, r.code, "andromeda wrote every key of this quota; stdout:\n%s\nstderr: %s", r.stdout, r.stderr)
	assert.NotContains(t, r.stdout, "not hold buckets")
}

// Review 6, a passing probe: set-limit at and around 2^53. 2^53 is kept exactly; 2^53+1,
// -1, 1e3, 0x10 and an empty N are usage errors (exit 2) that write nothing; inspect and
// watch show a usage and limit of 2^53 exactly.
func TestReview6SetLimitAtMaxAmount(t *testing.T) {
	tg := standalone(t)
	ctx := context.Background()
	const key = "r6-limit"
	limitKey := andromeda.LimitKey(key)
	r := tg.cli("set-limit", key, "9007199254740992")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "9007199254740992", tg.client.Get(ctx, limitKey).Val())
	for _, n := range []string{"9007199254740993", "-1", "1e3", "0x10", "", "9223372036854775808"} {
		r = tg.cli("set-limit", key, n)
		assert.Equal(t, 2, r.code, "set-limit %q: %s", n, r.stderr)
		assert.Equal(t, "9007199254740992", tg.client.Get(ctx, limitKey).Val(), "set-limit %q", n)
	}
	require.NoError(t, tg.client.Set(ctx, key, "9007199254740992", 0).Err())
	r = tg.cli("inspect", key)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `(?m)^usage\s+9007199254740992\s`, r.stdout)
	assert.Regexp(t, `(?m)^limit\s+9007199254740992\s`, r.stdout)
	assert.Regexp(t, `(?m)^remaining\s+0$`, r.stdout)
	r = tg.cli("watch", "-count", "1", key)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "100.0%")
}
