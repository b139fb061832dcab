package andromeda_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every usage script sweeps the hold buckets first, so a plain add, reduce or coalesced
// add reads them too: what someone else wrote there must be reported, not skipped or
// trusted, and change nothing.
//
// Failed before the fixes in 8c18120 and b9d605d: a plain add, reduce and
// coalesced add skipped buckets of another type (a string) and buckets with a field
// andromeda never writes, and succeeded; a bucket sum beyond any integer Redis can hold
// (10^23) was trusted on real Redis: it released the whole usage (3 claims wiped, the add
// then reported usage 1), and on miniredis it was a raw Lua error. Several quotas at once
// skipped them too.
func TestPlainChangesReportForeignHoldBuckets(t *testing.T) {
	key := keyOf("q")
	buckets, _ := andromeda.HoldKeys(key, "")
	cases := []struct {
		name  string
		write func(t *testing.T, b backend)
	}{
		{"buckets are a string", func(t *testing.T, b backend) { b.set(t, buckets, "x") }},
		{"a stranger field", func(t *testing.T, b backend) {
			require.NoError(t, b.client.HSet(context.Background(), buckets, "epoch", "1", "next", "1", "soon", "2").Err())
		}},
		{"a sum beyond int64", func(t *testing.T, b backend) {
			require.NoError(t, b.client.HSet(context.Background(), buckets, "epoch", "1", "next", "1", "1", "99999999999999999999999").Err())
		}},
	}
	runOn(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		db := newQuotaDB()
		db.put("q", 10, 0)
		ops := map[string]andromeda.UpdateQuotaUsage{
			"add":       newAdd(b, db, nil),
			"reduce":    newReduce(b, db, nil),
			"coalesced": newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) { c.Option.Coalesce = true }),
		}
		for _, tc := range cases {
			for name, op := range ops {
				b.flush(t)
				b.set(t, key, 3)
				tc.write(t, b)
				before := snapshot(t, b, key, buckets)
				_, err := op.Do(ctx, req("q", 1))
				if assert.ErrorIs(t, err, andromeda.ErrInvalidCachedUsage, "%s: %s", tc.name, name) {
					assert.Contains(t, err.Error(), strconv.Quote(buckets))
				}
				assert.Equal(t, before, snapshot(t, b, key, buckets), "%s: %s changed nothing", tc.name, name)
			}
		}

		// Several quotas: the second quota's buckets are foreign, the first has an expired
		// hold; nothing is released or changed.
		claim := andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: campaignQuotas(50, 2, db), GetQuotaUsageConfig: fastRetry})
		unclaim := andromeda.ReduceMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: campaignQuotas(50, 2, db), GetQuotaUsageConfig: fastRetry})
		campaign, user := "{campaign-42}:usage", "{campaign-42}:user:ann"
		campaignBuckets, _ := andromeda.HoldKeys(campaign, "")
		userBuckets, _ := andromeda.HoldKeys(user, "")
		for name, op := range map[string]andromeda.UpdateQuotaUsage{"AddMultiQuotaUsage": claim, "ReduceMultiQuotaUsage": unclaim} {
			b.flush(t)
			b.set(t, campaign, 5)
			b.set(t, user, 1)
			require.NoError(t, b.client.HSet(ctx, campaignBuckets, "epoch", "1", "next", "1", "1", "2").Err()) // expired long ago
			b.set(t, userBuckets, "x")
			before := snapshot(t, b, campaign, campaignBuckets, user, userBuckets)
			_, err := op.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "campaign-42", Usage: 1, Data: "ann"})
			if assert.ErrorIs(t, err, andromeda.ErrInvalidCachedUsage, name) {
				assert.Contains(t, err.Error(), strconv.Quote(userBuckets), name)
			}
			assert.Equal(t, before, snapshot(t, b, campaign, campaignBuckets, user, userBuckets), name)
		}
	}, miniredisStarter, standaloneStarter)
}

// Failed before the fix in 8c18120: a bucket sum written with a leading zero ("02"), which
// HINCRBY never writes, was trusted by a reserve: it succeeded, releasing 2 from the usage.
func TestHoldsReportNonCanonicalBucketSums(t *testing.T) {
	runOn(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		db := newQuotaDB()
		db.put("q", 10, 0)
		holds := newHolds(b, db, time.Minute)
		key := keyOf("q")
		buckets, _ := andromeda.HoldKeys(key, "")
		b.set(t, key, 3)
		require.NoError(t, b.client.HSet(ctx, buckets, "epoch", "1", "next", "1", "1", "02").Err())
		before := snapshot(t, b, key, buckets)
		_, err := holds.Reserve.Do(ctx, idem("q", 1, "h1"))
		require.ErrorIs(t, err, andromeda.ErrInvalidCachedUsage)
		assert.Contains(t, err.Error(), strconv.Quote(buckets))
		assert.Equal(t, before, snapshot(t, b, key, buckets))
	}, miniredisStarter, standaloneStarter)
}

// An add that reports a foreign value changes nothing of its own; the one exception the
// README states: expired holds are released first, by every script that runs on the
// quota, as the next call would release them anyway (usage 4 -> 0, buckets deleted).
func TestForeignLimitWithExpiredHoldsReleasesOnlyThem(t *testing.T) {
	runOn(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		db := newQuotaDB()
		db.put("q", 10, 0)
		short := newHolds(b, db, 50*time.Millisecond)
		add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) { c.Option.CacheLimit = true })
		key := keyOf("q")
		buckets, _ := andromeda.HoldKeys(key, "")
		b.set(t, key, 0)
		_, err := short.Reserve.Do(ctx, idem("q", 4, "h1"))
		require.NoError(t, err)
		time.Sleep(150 * time.Millisecond) // the hold has expired; nothing has released it
		b.set(t, andromeda.LimitKey(key), "-1")
		assert.Equal(t, int64(4), b.get(t, key))
		_, err = add.Do(ctx, req("q", 1))
		require.ErrorIs(t, err, andromeda.ErrInvalidCachedUsage)
		assert.Contains(t, err.Error(), strconv.Quote(andromeda.LimitKey(key)))
		assert.Equal(t, int64(0), b.get(t, key), "the expired hold released, the add not applied")
		assert.Equal(t, int64(-1), b.get(t, buckets), "the buckets went with their last hold")
		assert.Equal(t, "-1", b.client.Get(ctx, andromeda.LimitKey(key)).Val(), "the foreign limit left as it is")
	}, miniredisStarter, standaloneStarter)
}

// Two quotas a user may keep side by side, at keys "a" and "{a}", must not share the keys
// kept beside their usage.
//
// Failed before keys.go gave "{a}" a form of its own: both got "{a}:idempotency:add:order-1", "{a}:limit" and "{a}:hold-buckets"
// (keys.go keeps a key's own tag, and tags an untagged key with itself). A keyed add on
// "{a}" replays the outcome of the add with the same key on "a": it reports success with
// usage 1 while nothing was counted on "{a}".
func TestCompanionKeysOfDistinctQuotasDoNotCollide(t *testing.T) {
	b := miniredisBackend(t)
	ctx := context.Background()
	keyFunc := func(key string) andromeda.GetQuotaKey {
		return andromeda.GetQuotaKeyFunc(func(context.Context, *andromeda.QuotaRequest) (string, error) { return key, nil })
	}
	plain := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: b.cache, GetQuotaLimit: fixed(10), GetQuotaUsageKey: keyFunc("a")})
	tagged := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: b.cache, GetQuotaLimit: fixed(10), GetQuotaUsageKey: keyFunc("{a}")})
	assert.NotEqual(t, andromeda.LimitKey("a"), andromeda.LimitKey("{a}"))
	bucketsA, _ := andromeda.HoldKeys("a", "")
	bucketsTagged, _ := andromeda.HoldKeys("{a}", "")
	assert.NotEqual(t, bucketsA, bucketsTagged)

	_, err := plain.Do(ctx, idem("x", 1, "order-1"))
	require.NoError(t, err)
	usage, err := tagged.Do(ctx, idem("x", 1, "order-1"))
	require.NoError(t, err)
	assert.Equal(t, usage, b.get(t, "{a}"), "the usage reported is the usage at {a}")
	assert.Equal(t, int64(1), b.get(t, "{a}"), "the claim on {a} is counted")
}
