package andromeda_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A campaign's quota and each user's own: the user rides in Data.
func campaignKey(context.Context, *andromeda.QuotaRequest) (string, error) {
	return "{campaign-42}:usage", nil
}

func userKey(_ context.Context, req *andromeda.QuotaRequest) (string, error) {
	return fmt.Sprintf("{campaign-42}:user:%v", req.Data), nil
}

func fixed(n int64) andromeda.GetQuota {
	return andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) { return n, nil })
}

func campaignQuotas(campaignLimit, perUser int64, db *quotaDB) []andromeda.Quota {
	return []andromeda.Quota{
		{GetQuotaLimit: fixed(campaignLimit), GetQuotaUsage: db.usage(), GetQuotaUsageKey: andromeda.GetQuotaKeyFunc(campaignKey),
			GetQuotaUsageExpiration: expireIn(time.Hour)},
		{GetQuotaLimit: fixed(perUser), GetQuotaUsageKey: andromeda.GetQuotaKeyFunc(userKey)}, // a new user starts at 0
	}
}

// 40 users try 4 claims each against a campaign of 50 with at most 2 per user: exactly 50
// are admitted, no user gets more than 2, and the two quotas agree.
func TestCampaignAndPerUserQuotasUnderConcurrency(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := newQuotaDB()
		db.put("campaign-42", 50, 0)
		claim := andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{
			Cache: b.cache, Quotas: campaignQuotas(50, 2, db), GetQuotaUsageConfig: fastRetry,
		})
		var admitted atomic.Int64
		var wg sync.WaitGroup
		for user := 0; user < 40; user++ {
			for try := 0; try < 4; try++ {
				wg.Add(1)
				go func(user int) {
					defer wg.Done()
					_, err := claim.Do(context.Background(), &andromeda.QuotaUsageRequest{QuotaID: "campaign-42", Usage: 1, Data: user})
					if err == nil {
						admitted.Add(1)
					} else if !errors.Is(err, andromeda.ErrQuotaLimitExceeded) {
						t.Error(err)
					}
				}(user)
			}
		}
		wg.Wait()
		assert.Equal(t, int64(50), admitted.Load())
		assert.Equal(t, int64(50), b.get(t, "{campaign-42}:usage"))
		var perUser int64
		for user := 0; user < 40; user++ {
			n := b.get(t, fmt.Sprintf("{campaign-42}:user:%d", user))
			assert.LessOrEqual(t, n, int64(2), "user %d", user)
			perUser += max(n, 0)
		}
		assert.Equal(t, int64(50), perUser, "every campaign claim is some user's claim")
		assert.Equal(t, int64(1), db.loads.Load(), "the campaign's usage was loaded once")
	})
}

func TestMultiQuotaErrorNamesTheQuotaThatRefused(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := newQuotaDB()
		db.put("campaign-42", 50, 10)
		claim := andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: campaignQuotas(50, 2, db)})
		r := &andromeda.QuotaUsageRequest{QuotaID: "campaign-42", Usage: 2, Data: "ann"}
		usage, err := claim.Do(context.Background(), r)
		require.NoError(t, err)
		assert.Equal(t, int64(12), usage, "Do returns the first quota's usage")

		_, err = claim.Do(context.Background(), r)
		require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded)
		var qerr *andromeda.QuotaError
		require.ErrorAs(t, err, &qerr)
		assert.Equal(t, "{campaign-42}:user:ann", qerr.Key)
		assert.Equal(t, int64(2), qerr.Limit)
		assert.Equal(t, int64(2), qerr.Usage)
		assert.Equal(t, int64(12), b.get(t, "{campaign-42}:usage"), "all or nothing")

		reduce := andromeda.ReduceMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: campaignQuotas(50, 2, db)})
		usage, err = reduce.Do(context.Background(), &andromeda.QuotaUsageRequest{QuotaID: "campaign-42", Usage: 2, Data: "ann"})
		require.NoError(t, err)
		assert.Equal(t, int64(10), usage)
		assert.Equal(t, int64(0), b.get(t, "{campaign-42}:user:ann"))
		_, err = reduce.Do(context.Background(), &andromeda.QuotaUsageRequest{QuotaID: "campaign-42", Usage: 1, Data: "ann"})
		require.ErrorIs(t, err, andromeda.ErrInvalidMinQuotaUsage)
		assert.Equal(t, int64(10), b.get(t, "{campaign-42}:usage"), "all or nothing")

		_, err = reduce.Do(context.Background(), &andromeda.QuotaUsageRequest{QuotaID: "campaign-42", Usage: 1, Data: "bob"})
		require.ErrorIs(t, err, andromeda.ErrInvalidMinQuotaUsage, "bob's missing usage counts as zero")
		require.ErrorAs(t, err, &qerr)
		assert.Equal(t, "{campaign-42}:user:bob", qerr.Key)
	})
}

// Keys in different cluster slots get an error that names the hash-tag fix, and nothing
// changes; on a standalone server they work.
func TestMultiQuotaKeysInDifferentSlots(t *testing.T) {
	untagged := []andromeda.Quota{
		{GetQuotaLimit: fixed(10), GetQuotaUsageKey: andromeda.GetQuotaKeyFunc(func(context.Context, *andromeda.QuotaRequest) (string, error) {
			return "campaign-42:usage", nil
		})},
		{GetQuotaLimit: fixed(2), GetQuotaUsageKey: andromeda.GetQuotaKeyFunc(func(context.Context, *andromeda.QuotaRequest) (string, error) {
			return "campaign-42:user:ann", nil
		})},
	}
	t.Run("cluster", func(t *testing.T) {
		b := clusterBackend(t)
		claim := andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: untagged})
		_, err := claim.Do(context.Background(), req("campaign-42", 1))
		require.ErrorIs(t, err, andromeda.ErrCrossSlot)
		assert.Contains(t, err.Error(), "hash tag")
		assert.Contains(t, err.Error(), "Next")
		assert.Equal(t, int64(-1), b.get(t, "campaign-42:usage"))
		assert.Equal(t, int64(-1), b.get(t, "campaign-42:user:ann"))
	})
	t.Run("standalone", func(t *testing.T) {
		b := standaloneBackend(t)
		claim := andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: untagged})
		_, err := claim.Do(context.Background(), req("campaign-42", 1))
		require.NoError(t, err)
	})
}

func TestMultiQuotaBadInput(t *testing.T) {
	b := miniredisBackend(t)
	same := []andromeda.Quota{
		{GetQuotaLimit: fixed(10), GetQuotaUsageKey: andromeda.GetQuotaKeyFunc(campaignKey)},
		{GetQuotaLimit: fixed(10), GetQuotaUsageKey: andromeda.GetQuotaKeyFunc(campaignKey)},
	}
	_, err := andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: same}).Do(context.Background(), req("c", 1))
	require.ErrorIs(t, err, andromeda.ErrInvalidRequest)
	assert.Contains(t, err.Error(), "the same key")

	negative := campaignQuotas(-1, 2, newQuotaDB())
	_, err = andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: negative}).Do(context.Background(), req("c", 1))
	require.ErrorIs(t, err, andromeda.ErrInvalidRequest)
	assert.Equal(t, int64(-1), b.get(t, "{campaign-42}:usage"))

	assert.PanicsWithValue(t, "andromeda: MultiQuotaUsageConfig.Quotas is required", func() {
		andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache})
	})
	assert.PanicsWithValue(t, "andromeda: MultiQuotaUsageConfig.Quotas[1].GetQuotaLimit is required", func() {
		andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: []andromeda.Quota{same[0], {}}})
	})
	assert.PanicsWithValue(t, "andromeda: MultiQuotaUsageConfig.Quotas[0].GetQuotaUsageKey is required", func() {
		andromeda.ReduceMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: []andromeda.Quota{{}}})
	})
}

// When Next fails, every quota of the set is given back.
func TestMultiQuotaNextFailureUndoesAll(t *testing.T) {
	b := miniredisBackend(t)
	db := newQuotaDB()
	db.put("campaign-42", 50, 5)
	calls := 0
	claim := andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: campaignQuotas(50, 2, db), Next: failingStep(&calls)})
	_, err := claim.Do(context.Background(), &andromeda.QuotaUsageRequest{QuotaID: "campaign-42", Usage: 1, Data: "ann"})
	require.ErrorIs(t, err, errNext)
	assert.Equal(t, int64(5), b.get(t, "{campaign-42}:usage"))
	assert.Equal(t, int64(0), b.get(t, "{campaign-42}:user:ann"))
}

// A Do whose Next fails asks each quota's key function once: the undo reuses the keys the
// change computed, so a key function with side effects, or one that would answer
// differently the second time, cannot steer the undo to other keys.
func TestMultiQuotaUndoAsksEachKeyOnce(t *testing.T) {
	b := miniredisBackend(t)
	db := newQuotaDB()
	db.put("campaign-42", 50, 5)
	var asked [2]atomic.Int64
	counted := func(i int, key andromeda.GetQuotaKeyFunc) andromeda.GetQuotaKey {
		return andromeda.GetQuotaKeyFunc(func(ctx context.Context, req *andromeda.QuotaRequest) (string, error) {
			asked[i].Add(1)
			return key(ctx, req)
		})
	}
	quotas := campaignQuotas(50, 2, db)
	quotas[0].GetQuotaUsageKey = counted(0, campaignKey)
	quotas[1].GetQuotaUsageKey = counted(1, userKey)
	b.set(t, "{campaign-42}:user:ann", 1)
	calls := 0
	conf := andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: quotas, Next: failingStep(&calls)}
	for name, step := range map[string]andromeda.UpdateQuotaUsage{
		"add": andromeda.AddMultiQuotaUsage(conf), "reduce": andromeda.ReduceMultiQuotaUsage(conf),
	} {
		asked[0].Store(0)
		asked[1].Store(0)
		_, err := step.Do(context.Background(), &andromeda.QuotaUsageRequest{QuotaID: "campaign-42", Usage: 1, Data: "ann"})
		require.ErrorIs(t, err, errNext, name)
		assert.Equal(t, int64(1), asked[0].Load(), "%s: campaign key asked", name)
		assert.Equal(t, int64(1), asked[1].Load(), "%s: user key asked", name)
		assert.Equal(t, int64(5), b.get(t, "{campaign-42}:usage"), name)
		assert.Equal(t, int64(1), b.get(t, "{campaign-42}:user:ann"), name)
	}
	assert.Equal(t, 2, calls)
}

// The constructor keeps its own copy of the quotas: a caller that reuses its slice does
// not change the quotas of a built step.
func TestMultiQuotaKeepsItsOwnQuotas(t *testing.T) {
	b := miniredisBackend(t)
	db := newQuotaDB()
	db.put("campaign-42", 50, 0)
	quotas := campaignQuotas(50, 2, db)
	claim := andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: quotas})
	quotas[1].GetQuotaUsageKey = andromeda.GetQuotaKeyFunc(func(context.Context, *andromeda.QuotaRequest) (string, error) {
		return "{campaign-42}:elsewhere", nil
	})
	_, err := claim.Do(context.Background(), &andromeda.QuotaUsageRequest{QuotaID: "campaign-42", Usage: 1, Data: "ann"})
	require.NoError(t, err)
	assert.Equal(t, int64(1), b.get(t, "{campaign-42}:user:ann"))
}
