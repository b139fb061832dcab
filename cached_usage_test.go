package andromeda_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The sync job's helper reads present and absent usages alike, across cluster slots, and
// marks the absent ones so that no stale zero is written back.
func TestReadCachedUsages(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		var quotas []*andromeda.QuotaRequest
		for i := 0; i < 20; i++ {
			id := fmt.Sprint("v", i)
			quotas = append(quotas, &andromeda.QuotaRequest{QuotaID: id})
			if i%3 != 0 {
				b.set(t, keyOf(id), i*10)
			}
		}
		got, err := andromeda.ReadCachedUsages(context.Background(), b.cache, usageKey, quotas)
		require.NoError(t, err)
		require.Len(t, got, 20)
		for i, u := range got {
			want := andromeda.CachedUsage{QuotaID: fmt.Sprint("v", i), Key: keyOf(fmt.Sprint("v", i))}
			if i%3 != 0 {
				want.Usage, want.Found = int64(i*10), true
			}
			assert.Equal(t, want, u)
		}
	})
}

// The write-back job must get committed usage only: holds are dropped, never released,
// when a usage is loaded afresh, so a hold written back would stay counted for good.
// Open holds and expired ones not yet released are reported apart, in Held.
func TestReadCachedUsagesLeavesHoldsOut(t *testing.T) {
	eachRealBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		db := newQuotaDB()
		db.put("h", 100, 40)
		holds := newHolds(b, db, 50*time.Millisecond)
		longHolds := newHolds(b, db, time.Minute)
		_, err := holds.Reserve.Do(ctx, idem("h", 3, "short"))
		require.NoError(t, err)
		_, err = longHolds.Reserve.Do(ctx, idem("h", 5, "open"))
		require.NoError(t, err)
		_, err = longHolds.Reserve.Do(ctx, idem("h", 7, "kept"))
		require.NoError(t, err)
		_, err = longHolds.Commit.Do(ctx, idem("h", 0, "kept"))
		require.NoError(t, err)
		time.Sleep(150 * time.Millisecond) // "short" expires; nothing has released it yet

		got, err := andromeda.ReadCachedUsages(ctx, b.cache, usageKey, []*andromeda.QuotaRequest{{QuotaID: "h"}})
		require.NoError(t, err)
		assert.Equal(t, andromeda.CachedUsage{QuotaID: "h", Key: keyOf("h"), Usage: 47, Held: 8, Found: true}, got[0])
		assert.Equal(t, int64(55), b.get(t, keyOf("h")), "a read changes nothing")
	})
}

// A hold-buckets key of another type is reported, not read as no holds.
func TestReadCachedUsagesForeignBuckets(t *testing.T) {
	b := standaloneBackend(t)
	b.set(t, keyOf("f"), 4)
	buckets, _ := andromeda.HoldKeys(keyOf("f"), "")
	require.NoError(t, b.client.Set(context.Background(), buckets, "x", 0).Err())
	_, err := andromeda.ReadCachedUsages(context.Background(), b.cache, usageKey, []*andromeda.QuotaRequest{{QuotaID: "f"}})
	assert.ErrorIs(t, err, andromeda.ErrInvalidCachedUsage)
}

func TestReadCachedUsagesBadInput(t *testing.T) {
	b := miniredisBackend(t)
	_, err := andromeda.ReadCachedUsages(context.Background(), b.cache, usageKey, []*andromeda.QuotaRequest{nil})
	assert.ErrorIs(t, err, andromeda.ErrInvalidRequest)
	b.set(t, keyOf("x"), "many")
	_, err = andromeda.ReadCachedUsages(context.Background(), b.cache, usageKey, []*andromeda.QuotaRequest{{QuotaID: "x"}})
	assert.ErrorIs(t, err, andromeda.ErrInvalidCachedUsage)
	got, err := andromeda.ReadCachedUsages(context.Background(), b.cache, usageKey, nil)
	require.NoError(t, err)
	assert.Empty(t, got)
}
