package andromeda_test

import (
	"context"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// README "Writing usage back to the database" and ForgetUsage: run the write-back job,
// then forget; the next change reloads the usage from the database. A cancel of a kept
// claim is a change of its own, named by its own key (README, "Counting once": the
// claim's key names its add and the reduce that compensates it): after the reload it
// gives Alice's unit back. (A reduce with the claim's key is its compensation: after a
// reload it takes nothing back, as the loaded usage never counted a failed claim.)
func TestReview3KeyedCancelAfterWriteBackAndForget(t *testing.T) {
	eachRealBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		db := newQuotaDB()
		db.put("fkc", 1, 0)
		add := newAdd(b, db, nil)
		cancel := newReduce(b, db, nil)
		_, err := add.Do(ctx, idem("fkc", 1, "claim-alice"))
		require.NoError(t, err)

		usages, err := andromeda.ReadCachedUsages(ctx, b.cache, usageKey, []*andromeda.QuotaRequest{{QuotaID: "fkc"}})
		require.NoError(t, err)
		db.put("fkc", 1, usages[0].Usage) // 1: Alice's claim
		_, _, err = andromeda.ForgetUsage(ctx, b.cache, keyOf("fkc"))
		require.NoError(t, err)

		u, err := cancel.Do(ctx, idem("fkc", 1, "cancel-alice")) // Alice cancels: her unit is free
		require.NoError(t, err)
		t.Logf("cancel returned usage %d; Redis usage %d", u, b.get(t, keyOf("fkc")))
		_, err = add.Do(ctx, req("fkc", 1)) // Bob
		assert.NoError(t, err, "no claim is held, yet Bob is told sold out")
	})
}

// The same with no forget: the usage key expires (GetQuotaUsageExpiration) after the
// write-back job ran, as usage keys of the spec do.
func TestReview3KeyedCancelAfterWriteBackAndExpiry(t *testing.T) {
	eachRealBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		db := newQuotaDB()
		db.put("fke", 1, 0)
		short := func(c *andromeda.AddQuotaUsageConfig) { c.GetQuotaUsageExpiration = expireIn(300 * time.Millisecond) }
		add := newAdd(b, db, short)
		cancel := newReduce(b, db, nil)
		_, err := add.Do(ctx, idem("fke", 1, "claim-alice"))
		require.NoError(t, err)
		usages, err := andromeda.ReadCachedUsages(ctx, b.cache, usageKey, []*andromeda.QuotaRequest{{QuotaID: "fke"}})
		require.NoError(t, err)
		db.put("fke", 1, usages[0].Usage)
		time.Sleep(500 * time.Millisecond) // the usage key expires
		require.Equal(t, int64(-1), b.get(t, keyOf("fke")))

		_, err = cancel.Do(ctx, idem("fke", 1, "cancel-alice"))
		require.NoError(t, err)
		t.Logf("Redis usage after Alice's cancel: %d", b.get(t, keyOf("fke")))
		_, err = add.Do(ctx, req("fke", 1))
		assert.NoError(t, err, "no claim is held, yet Bob is told sold out")
	})
}
