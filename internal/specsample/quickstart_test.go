package specsample_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/ramadani/andromeda/cache/redisv9"
	"github.com/ramadani/andromeda/internal/specsample"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type countingDB struct {
	limit, usage           int64
	limitCalls, usageCalls atomic.Int64
}

func (d *countingDB) VoucherLimit(context.Context, string) (int64, error) {
	d.limitCalls.Add(1)
	return d.limit, nil
}

func (d *countingDB) VoucherUsage(context.Context, string) (int64, error) {
	d.usageCalls.Add(1)
	return d.usage, nil
}

// The README's quick start does what it says: the database is asked once for the limit
// and once for the usage, however many claims follow; a repeated claim ID counts once;
// the claim past the limit is sold out.
func TestQuickStart(t *testing.T) {
	server := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: server.Addr()})
	t.Cleanup(func() { client.Close() })
	db := &countingDB{limit: 100, usage: 40}
	claim := specsample.QuickStart(redisv9.New(client), db)
	ctx := context.Background()

	counts := map[string]int{}
	for i := 0; i < 70; i++ {
		outcome, _ := specsample.ClaimOnce(ctx, claim, "v-42", fmt.Sprintf("claim-%d", i))
		counts[outcome]++
	}
	outcome, usage := specsample.ClaimOnce(ctx, claim, "v-42", "claim-3") // a retried claim
	assert.Equal(t, specsample.Claimed, outcome)
	assert.Equal(t, int64(44), usage, "a replay returns the first outcome: the usage right after claim-3 (40 + 4)")

	assert.Equal(t, map[string]int{specsample.Claimed: 60, specsample.SoldOut: 10}, counts)
	stored, err := client.Get(ctx, "voucher:v-42:usage").Int64()
	require.NoError(t, err)
	assert.Equal(t, int64(100), stored)
	assert.Equal(t, int64(1), db.limitCalls.Load(), "GetQuotaLimit with CacheLimit")
	assert.Equal(t, int64(1), db.usageCalls.Load(), "GetQuotaUsage")

	server.Close() // Redis down: the claim fails, and says nothing changed
	outcome, _ = specsample.ClaimOnce(ctx, claim, "v-42", "claim-after-outage")
	assert.Equal(t, specsample.Failed, outcome)
}
