package andromeda_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Redis evicts keys under maxmemory (allkeys-random, as in TestEvictionUnderMaxmemory,
// which the README cites for "Redis lost the usage ... or an eviction"). The state of a
// hold lives in three keys (usage, hold buckets, hold record) that Redis evicts one by one.
// When the usage survives and its hold buckets do not, the held amount stays in the usage
// for good: the hold is never released ("an abandoned hold gives its quota back by
// itself"), its Cancel succeeds and gives nothing back, and an add that fits is refused
// ("no false sold out").
func TestEvictedHoldBucketsLeakTheHold(t *testing.T) {
	t.Skip("known limit, listed in the README (Known limits): hold buckets evicted without their usage leave the held units counted until the usage is forgotten")
	redistest.Require(t)
	server := redistest.Standalone(t, "--maxmemory", "3mb", "--maxmemory-policy", "allkeys-random")
	client := redis.NewClient(&redis.Options{Addr: server.Addr, MaxRetries: -1})
	t.Cleanup(func() { client.Close() })
	b := newBackend(t, "standalone", client, true)
	ctx := context.Background()

	const quotas = 300
	const holdFor = 2 * time.Second
	db := newQuotaDB()
	for i := 0; i < quotas; i++ {
		db.put(fmt.Sprint("ev-", i), 1, 0) // one unit each, none sold in the database
	}
	holds := newHolds(b, db, holdFor)
	add := newAdd(b, db, nil)
	for i := 0; i < quotas; i++ {
		_, err := holds.Reserve.Do(ctx, idem(fmt.Sprint("ev-", i), 1, "order"))
		require.NoError(t, err)
	}
	start := time.Now()

	// Filler writes until Redis has evicted some quota's hold buckets but kept its usage.
	victim := -1
	payload := make([]byte, 1024)
	for n := 0; victim < 0 && time.Since(start) < holdFor/2; n++ {
		client.Set(ctx, fmt.Sprint("filler-", n), payload, 0)
		if n%200 != 199 {
			continue
		}
		for i := 0; i < quotas; i++ {
			buckets, _ := andromeda.HoldKeys(keyOf(fmt.Sprint("ev-", i)), "")
			found, err := client.Exists(ctx, keyOf(fmt.Sprint("ev-", i)), buckets).Result()
			require.NoError(t, err)
			usage, _ := client.Exists(ctx, keyOf(fmt.Sprint("ev-", i))).Result()
			if found == 1 && usage == 1 {
				victim = i
				break
			}
		}
	}
	require.NoError(t, client.ConfigSet(ctx, "maxmemory", "0").Err()) // no more evictions
	require.GreaterOrEqual(t, victim, 0, "no quota lost its buckets alone within %v", holdFor/2)
	quota := fmt.Sprint("ev-", victim)
	t.Logf("quota %s: usage kept (%d), hold buckets evicted", quota, b.get(t, keyOf(quota)))

	// The hold is still active (HoldFor has not passed): its Cancel must give its unit back.
	usage, err := holds.Cancel.Do(ctx, idem(quota, 0, "order"))
	t.Logf("cancel of the active hold: usage %d, err %v", usage, err)
	assert.Zero(t, b.get(t, keyOf(quota)), "cancelled hold: its unit must be given back")

	// And in any case once HoldFor has passed the abandoned hold is released by the next call.
	waitPast(start, holdFor)
	_, err = add.Do(ctx, req(quota, 1))
	assert.NoError(t, err, "the only hold on a quota of 1 was cancelled and has expired: an add of 1 fits")
	released, found, err := andromeda.ReleaseExpiredHolds(ctx, b.cache, keyOf(quota))
	require.NoError(t, err)
	t.Logf("after HoldFor: ReleaseExpiredHolds says usage %d (found %v); nothing was ever committed", released, found)
}

// The recovery the README gives for hold buckets lost without their usage: forget the
// usage (the write-back job wrote committed usage only), and the reload counts no hold.
func TestForgetUsageRecoversHoldBucketsLostAlone(t *testing.T) {
	eachRealBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		db := newQuotaDB()
		db.put("lost", 1, 0)
		holds := newHolds(b, db, time.Minute)
		add := newAdd(b, db, nil)
		_, err := holds.Reserve.Do(ctx, idem("lost", 1, "order"))
		require.NoError(t, err)
		usages, err := andromeda.ReadCachedUsages(ctx, b.cache, usageKey, []*andromeda.QuotaRequest{{QuotaID: "lost"}})
		require.NoError(t, err)
		db.put("lost", 1, usages[0].Usage) // the write-back job: 0, the hold is not the database's

		buckets, _ := andromeda.HoldKeys(keyOf("lost"), "")
		require.NoError(t, b.client.Del(ctx, buckets).Err()) // as an allkeys-* eviction may
		_, err = holds.Cancel.Do(ctx, idem("lost", 0, "order"))
		require.NoError(t, err)
		_, err = add.Do(ctx, req("lost", 1))
		require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded, "the known limit: the held unit stays counted")

		_, _, err = andromeda.ForgetUsage(ctx, b.cache, keyOf("lost"))
		require.NoError(t, err)
		usage, err := add.Do(ctx, req("lost", 1))
		require.NoError(t, err, "after the forget, the unit nobody holds is free")
		assert.Equal(t, int64(1), usage)
	})
}
