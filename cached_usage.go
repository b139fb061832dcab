package andromeda

import (
	"context"
	"fmt"
)

// CachedUsage is one quota's usage as Redis holds it.
type CachedUsage struct {
	QuotaID string
	Key     string
	Usage   int64
	// Found is false when Redis holds no usage for the quota: it expired, was evicted,
	// or was never loaded. Write nothing back for it.
	Found bool
}

// ReadCachedUsages reads the usage Redis holds for each quota, for the scheduled job that
// writes usage back to your database: in one round trip on a standalone server, one per
// node on a cluster. A quota whose usage is not in Redis comes back with Found false, so
// that the job skips it instead of writing a stale zero over real usage.
func ReadCachedUsages(ctx context.Context, cache Cache, getKey GetQuotaKey, quotas []*QuotaRequest) ([]CachedUsage, error) {
	out := make([]CachedUsage, len(quotas))
	keys := make([]string, len(quotas))
	for i, q := range quotas {
		if q == nil {
			return nil, invalid("quota %d is nil", i)
		}
		key, err := usageKey(ctx, getKey, q)
		if err != nil {
			return nil, fmt.Errorf("quota %q: %w", q.QuotaID, err)
		}
		keys[i] = key
		out[i] = CachedUsage{QuotaID: q.QuotaID, Key: key}
	}
	if len(keys) == 0 {
		return out, nil
	}
	usages, found, err := newStore(cache).GetUsages(ctx, keys)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Usage, out[i].Found = usages[i], found[i]
	}
	return out, nil
}
