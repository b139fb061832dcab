package andromeda_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ramadani/andromeda"
)

// Review 6. README Guarantee 6: "Bad input gets a clear error and changes nothing ... a
// stored value that is not a usage". Its one exception is "when a key other than the usage
// (a limit kept in Redis, a record) is the foreign one". And
// TestReviewForeignBucketsChangeNothing holds a multi-quota script to "changes nothing,
// not even the due buckets of another quota of the same multi-quota script".
//
// Here the foreign value is the USAGE of the second quota of AddMultiQuotaUsage and
// ReduceMultiQuotaUsage (2^53+1, "-5"), and the first quota has an expired hold of 2: the
// call fails with ErrInvalidCachedUsage as it should, but first releases the first
// quota's expired hold: its usage goes from 12 to 10 and its buckets are deleted.
func TestReview6MultiForeignUsageChangesNothing(t *testing.T) {
	eachRealBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		for _, foreign := range []string{"9007199254740993", "-5"} {
			for _, op := range []string{"add", "reduce"} {
				t.Run(op+"/"+foreign, func(t *testing.T) {
					b.flush(t)
					good, bad := "r6m:{x}:good", "r6m:{x}:bad"
					b.set(t, good, 10)
					_, err := review6Holds(b, good, 100, 50*time.Millisecond).Reserve.Do(ctx, keyed(2, "h"))
					require.NoError(t, err)
					time.Sleep(150 * time.Millisecond) // the hold of 2 has ended: it is due
					b.set(t, bad, foreign)
					before := review6Dump(t, b)

					quotas := []andromeda.Quota{
						{GetQuotaLimit: constLimit(100), GetQuotaUsageKey: constKey(good)},
						{GetQuotaLimit: constLimit(100), GetQuotaUsageKey: constKey(bad)},
					}
					conf := andromeda.MultiQuotaUsageConfig{Cache: b.cache, Quotas: quotas}
					u := andromeda.AddMultiQuotaUsage(conf)
					if op == "reduce" {
						u = andromeda.ReduceMultiQuotaUsage(conf)
					}
					_, err = u.Do(ctx, req("q", 1))
					require.ErrorIs(t, err, andromeda.ErrInvalidCachedUsage)
					var qerr *andromeda.QuotaError
					require.ErrorAs(t, err, &qerr)
					assert.Contains(t, err.Error(), bad)
					assert.Contains(t, err.Error(), foreign)

					review6SameDump(t, before, review6Dump(t, b), time.Second, "a multi "+op+" refused for a foreign usage")
					assert.Equal(t, int64(12), b.get(t, good), "the good quota's usage (10 + the expired hold of 2) must not move")
				})
			}
		}
	})
}

// Review 6. The same promise for bad input found inside the script: a reduce that carries
// the idempotency key of an add of another amount is refused with ErrInvalidRequest ("its
// amount, which the reduce must carry, or it fails with ErrInvalidRequest"). It is bad
// input and must change nothing; it releases the quota's expired hold first.
func TestReview6MismatchedKeyedReduceChangesNothing(t *testing.T) {
	eachRealBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		key := "r6r:{x}:usage"
		b.set(t, key, 10)
		_, err := reviewAdd(b, key, nil).Do(ctx, keyed(3, "claim-1"))
		require.NoError(t, err)
		_, err = review6Holds(b, key, 100, 50*time.Millisecond).Reserve.Do(ctx, keyed(2, "h"))
		require.NoError(t, err)
		time.Sleep(150 * time.Millisecond)
		assert.Equal(t, int64(15), b.get(t, key))
		before := review6Dump(t, b)

		_, err = reviewReduce(b, key, nil).Do(ctx, keyed(1, "claim-1")) // the add was of 3
		require.ErrorIs(t, err, andromeda.ErrInvalidRequest)

		review6SameDump(t, before, review6Dump(t, b), time.Second, "a reduce refused as invalid")
		assert.Equal(t, int64(15), b.get(t, key), "bad input must leave the usage as it was")
	})
}

// Review 6. Promise 11 (DESIGN): "Every decision is exact for all values up to MaxAmount
// (2^53) ... and with any number of holds; a value someone else wrote that is not a usage
// is reported". holds_release.lua takes a hold bucket over 18 digits for someone else's
// ("a sum ... far below 10^18"), but andromeda's own HINCRBY gets there: a plain reduce
// may give back held units ("a plain reduce that gives back held quota makes a later
// release stop at zero", QuotaHolds doc), so the holds summed in one bucket are not
// bounded by the usage. 112 holds of 2^53 reserved within one bucket's width, each given
// back by a plain reduce (a refund), sum to 112 * 2^53 > 10^18: from then on every hold
// call on the quota, and the write-back read, fail with ErrInvalidCachedUsage naming the
// bucket andromeda itself wrote, while the usage is 0 and the limit 2^53.
func TestReview6OwnHoldBucketsAreNeverForeign(t *testing.T) {
	runOn(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		const max = int64(andromeda.MaxAmount)
		key := "r6b:{x}:usage"
		b.set(t, key, 0)
		// HoldFor 64h: buckets 1h wide, so the 112 reserves below land in one bucket.
		holds := review6Holds(b, key, max, 64*time.Hour)
		reduce := reviewReduce(b, key, nil)
		for i := 0; i < 112; i++ {
			usage, err := holds.Reserve.Do(ctx, keyed(max, "hold-"+string(rune('A'+i%26))+string(rune('a'+i/26))))
			require.NoError(t, err, "reserve %d", i)
			require.Equal(t, max, usage)
			usage, err = reduce.Do(ctx, req("q", max)) // a refund that gives the held units back
			require.NoError(t, err, "reduce %d", i)
			require.Zero(t, usage)
		}
		buckets, _ := andromeda.HoldKeys(key, "")
		t.Logf("buckets after 112 reserves and refunds: %v", b.client.HGetAll(ctx, buckets).Val())

		usage, err := holds.Reserve.Do(ctx, keyed(1, "one-more"))
		assert.NoError(t, err, "usage 0 of 2^53: a reserve of 1 fits")
		assert.Equal(t, int64(1), usage)
		read, err := andromeda.ReadCachedUsages(ctx, b.cache, constKey(key), []*andromeda.QuotaRequest{{QuotaID: "q"}})
		assert.NoError(t, err, "the write-back job must read what andromeda wrote")
		if err == nil {
			assert.True(t, read[0].Found)
		}
	}, standaloneStarter)
}
