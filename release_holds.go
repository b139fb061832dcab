package andromeda

import (
	"context"
	"fmt"
)

// ReleaseExpiredHolds gives back, in one atomic step, the quota of every hold on the usage
// at usageKey that ended without a Commit or Cancel, and returns the usage after it; found
// is false when Redis holds no usage for the quota (then the holds it counted are dropped,
// as they were lost with it). Any change on the quota does this first, so it is never
// needed for correctness: it lets an operator see the usage without the expired holds
// before the next change comes.
func ReleaseExpiredHolds(ctx context.Context, cache Cache, usageKey string) (usage int64, found bool, err error) {
	if usageKey == "" {
		return 0, false, invalid("empty usage key")
	}
	res, err := newStore(cache).ReduceUsage(ctx, reduceUsageArgs{Key: usageKey})
	if err != nil {
		return 0, false, fmt.Errorf("release expired holds of %q: %w", usageKey, err)
	}
	return res.Usage, res.Status == cacheApplied, nil
}
