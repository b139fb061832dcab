package andromeda

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// WarmOptions paces WarmQuotas.
type WarmOptions struct {
	// Parallel is how many quotas are loaded at once; 0 means DefaultWarmParallel.
	Parallel int
	// Progress, if set, is called once per quota when it is done, one call at a time.
	Progress func(WarmProgress)
}

// DefaultWarmParallel is how many quotas WarmQuotas loads at once by default.
const DefaultWarmParallel = 16

// WarmProgress tells how far WarmQuotas has got.
type WarmProgress struct {
	// Done quotas of Total, of which Failed failed.
	Done, Total, Failed int
	// QuotaID is the quota just done, and Err how its loading failed (nil when it is in
	// Redis now, or was already).
	QuotaID string
	Err     error
}

// maxWarmErrors bounds how many quotas' errors WarmQuotas returns; Progress hears them all.
const maxWarmErrors = 10

// WarmQuotas puts the usage of every quota in quotas into Redis, as AddQuotaUsage(conf)
// would load it on its first add: GetQuotaUsage under the loader lock, fenced, kept for
// GetQuotaUsageExpiration; with Option.CacheLimit, the limit from GetQuotaLimit too.
// Call it before a sale opens, so that no buyer waits for a load. Quotas already in Redis
// are left as they are; a quota another process is loading is waited for, as a change
// would wait. Options.Parallel quotas are loaded at once. It tries every quota, and
// returns nil when all are in Redis, or an error that counts the failures and wraps the
// first of them (each names its quota); ctx ending stops it, with ctx's error. Without
// GetQuotaUsage (a missing usage starts at zero) only limits are loaded. It panics if
// Cache or GetQuotaUsageKey is missing, or GetQuotaLimit with Option.CacheLimit.
func WarmQuotas(ctx context.Context, conf AddQuotaUsageConfig, quotas []QuotaRequest, opts WarmOptions) error {
	const name = "AddQuotaUsageConfig"
	mustSet(name, configField{"Cache", conf.Cache}, configField{"GetQuotaUsageKey", conf.GetQuotaUsageKey})
	var loaders []warmLoader
	if conf.GetQuotaUsage != nil {
		loaders = append(loaders, warmLoader{newUsageLoader(conf.Cache, conf.GetQuotaUsage, conf.GetQuotaUsageExpiration, conf.GetQuotaUsageConfig),
			func(usageKey string) string { return usageKey }})
	}
	if conf.Option.CacheLimit {
		mustSet(name, configField{"GetQuotaLimit", conf.GetQuotaLimit})
		loaders = append(loaders, warmLoader{newLimitLoader(conf.Cache, conf.GetQuotaLimit, conf.GetQuotaLimitExpiration, conf.GetQuotaUsageConfig),
			LimitKey})
	}
	parallel := opts.Parallel
	if parallel <= 0 {
		parallel = DefaultWarmParallel
	}

	var (
		next     atomic.Int64
		mu       sync.Mutex
		progress = WarmProgress{Total: len(quotas)}
		errs     []error
		wg       sync.WaitGroup
	)
	for w := 0; w < min(parallel, len(quotas)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= len(quotas) {
					return
				}
				err := warmQuota(ctx, conf, loaders, &quotas[i])
				mu.Lock()
				progress.Done++
				if err != nil {
					progress.Failed++
					if len(errs) < maxWarmErrors {
						errs = append(errs, err)
					}
				}
				progress.QuotaID, progress.Err = quotas[i].QuotaID, err
				if opts.Progress != nil {
					opts.Progress(progress)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("warm quotas: %d of %d done: %w", progress.Done, progress.Total, err)
	}
	if progress.Failed > 0 {
		return fmt.Errorf("warm quotas: %d of %d failed; the first: %w", progress.Failed, progress.Total, errors.Join(errs...))
	}
	return nil
}

// warmLoader is a loader, and the key it fills for a quota's usage key.
type warmLoader struct {
	loader *loader
	key    func(usageKey string) string
}

// warmQuota loads each value of one quota that is missing from Redis.
func warmQuota(ctx context.Context, conf AddQuotaUsageConfig, loaders []warmLoader, q *QuotaRequest) error {
	key, err := usageKey(ctx, conf.GetQuotaUsageKey, q)
	if err != nil {
		return fmt.Errorf("quota %q: %w", q.QuotaID, err)
	}
	for _, l := range loaders {
		k := l.key(key)
		err := retryMissing(ctx, conf.GetQuotaUsageConfig, q, func() (*missingKey, error) {
			_, found, err := l.loader.cache.GetUsage(ctx, k)
			if err != nil || found {
				return nil, err
			}
			return &missingKey{l.loader, k}, nil
		})
		if err != nil {
			return fmt.Errorf("quota %q, key %q: %w", q.QuotaID, k, err)
		}
	}
	return nil
}
