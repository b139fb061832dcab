package andromeda_test

import (
	"context"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Keys made of the characters that decide a hash tag, with binary and multi-byte ones
// mixed in: every companion key must hash, by the real cluster's CLUSTER KEYSLOT, to its
// usage key's slot.
func TestCompanionSlotsMatchRedisForRandomKeys(t *testing.T) {
	b := clusterBackend(t)
	ctx := context.Background()
	rng := rand.New(rand.NewSource(11))
	alphabet := []string{"{", "}", "a", "b", "\x00", "\xff", "é", "键", ":"}
	keys := []string{strings.Repeat("}", 300), strings.Repeat("{", 300) + "}", "{" + strings.Repeat("x", 5000) + "}y}"}
	for len(keys) < 3000 {
		var s strings.Builder
		for n := 1 + rng.Intn(8); n > 0; n-- {
			s.WriteString(alphabet[rng.Intn(len(alphabet))])
		}
		keys = append(keys, s.String())
	}
	pipe := b.client.(*redis.ClusterClient).Pipeline()
	type pair struct {
		key, companion string
		a, c           *redis.IntCmd
	}
	var pairs []pair
	for _, key := range keys {
		buckets, hold := andromeda.HoldKeys(key, "h}{1")
		for _, companion := range []string{andromeda.LimitKey(key), buckets, hold} {
			pairs = append(pairs, pair{key, companion, pipe.ClusterKeySlot(ctx, key), pipe.ClusterKeySlot(ctx, companion)})
		}
	}
	_, err := pipe.Exec(ctx)
	require.NoError(t, err)
	for _, p := range pairs {
		require.Equal(t, p.a.Val(), p.c.Val(), "%q and %q", p.key, p.companion)
	}
}

// The odd keys of odd_keys_test.go, with binary, multi-byte and long ones, through a keyed
// add, its compensating reduce, the loader, a cached limit and a hold, on a real cluster.
func TestMoreOddKeysOnACluster(t *testing.T) {
	b := clusterBackend(t)
	ctx := context.Background()
	for _, key := range []string{"\x00}\xff", "ключ}", "{}键", "}" + strings.Repeat("a", 2000), "{" + strings.Repeat("}", 50), "a{}b}c"} {
		keyFunc := andromeda.GetQuotaKeyFunc(func(context.Context, *andromeda.QuotaRequest) (string, error) { return key, nil })
		db := newQuotaDB()
		db.put("q", 3, 1)
		add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{
			Cache: b.cache, GetQuotaLimit: db.limit(), GetQuotaUsage: db.usage(), GetQuotaUsageKey: keyFunc,
			GetQuotaUsageConfig: fastRetry, Option: andromeda.AddUsageOption{CacheLimit: true},
		})
		reduce := andromeda.ReduceQuotaUsage(andromeda.ReduceQuotaUsageConfig{Cache: b.cache, GetQuotaUsage: db.usage(), GetQuotaUsageKey: keyFunc, GetQuotaUsageConfig: fastRetry})
		holds := andromeda.NewQuotaHolds(andromeda.QuotaHoldsConfig{
			Cache: b.cache,
			Quota: andromeda.Quota{
				GetQuotaLimit:    db.limit(),
				GetQuotaUsage:    db.usage(),
				GetQuotaUsageKey: keyFunc,
			},
			GetQuotaUsageConfig: fastRetry,
			HoldFor:             time.Minute,
		})
		claim := idem("q", 1, "c}{1")
		usage, err := add.Do(ctx, claim)
		require.NoError(t, err, "%q", key)
		assert.Equal(t, int64(2), usage)
		usage, err = reduce.Do(ctx, claim) // compensates the claim
		require.NoError(t, err, "%q", key)
		assert.Equal(t, int64(1), usage)
		usage, err = add.Do(ctx, claim) // the retry is a fresh attempt
		require.NoError(t, err, "%q", key)
		assert.Equal(t, int64(2), usage)
		_, err = holds.Reserve.Do(ctx, idem("q", 1, "h{1}"))
		require.NoError(t, err, "%q", key)
		_, err = holds.Reserve.Do(ctx, idem("q", 1, "h{2}"))
		require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded, "%q", key)
		usage, err = holds.Commit.Do(ctx, idem("q", 0, "h{1}"))
		require.NoError(t, err, "%q", key)
		assert.Equal(t, int64(3), usage)
		assert.Equal(t, int64(3), b.get(t, key))
	}
}
