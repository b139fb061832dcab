package andromeda

import (
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"
)

// CachedUsage is one quota's usage as Redis holds it.
type CachedUsage struct {
	QuotaID string
	Key     string
	// Usage is the quota's usage without its holds: what your database should record.
	// Holds are not the database's: when a usage is loaded afresh its holds are dropped
	// (they count as expired), so a hold written back as usage would stay counted for
	// good once Redis lost or forgot the usage.
	Usage int64
	// Held is what the quota's holds count in Redis's usage on top of Usage: open holds,
	// and expired ones not yet released.
	Held int64
	// Found is false when Redis holds no usage for the quota: it expired, was evicted,
	// or was never loaded. Write nothing back for it.
	Found bool
}

// readParallelism bounds the reads ReadCachedUsages has in flight at once.
const readParallelism = 16

// ReadCachedUsages reads the usage Redis holds for each quota, for the scheduled job that
// writes usage back to your database: each quota's usage and holds in one read-only
// script call, 16 quotas at a time. A quota whose usage is not in Redis comes back with
// Found false, so that the job skips it instead of writing a stale zero over real usage.
func ReadCachedUsages(ctx context.Context, cache Cache, getKey GetQuotaKey, quotas []*QuotaRequest) ([]CachedUsage, error) {
	out := make([]CachedUsage, len(quotas))
	for i, q := range quotas {
		if q == nil {
			return nil, invalid("quota %d is nil", i)
		}
		key, err := usageKey(ctx, getKey, q)
		if err != nil {
			return nil, fmt.Errorf("quota %q: %w", q.QuotaID, err)
		}
		out[i] = CachedUsage{QuotaID: q.QuotaID, Key: key}
	}
	s := newStore(cache)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(readParallelism)
	for i := range out {
		g.Go(func() error {
			usage, held, found, err := s.ReadUsage(gctx, out[i].Key)
			out[i].Usage, out[i].Held, out[i].Found = usage-held, held, found
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}
