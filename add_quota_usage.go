package andromeda

import (
	"context"
	"fmt"
)

// AddQuotaUsageConfig configures AddQuotaUsage. Cache, GetQuotaLimit and
// GetQuotaUsageKey are required.
type AddQuotaUsageConfig struct {
	Cache Cache
	// GetQuotaLimit returns the quota's limit; it is asked on every Do.
	GetQuotaLimit GetQuota
	// GetQuotaUsage loads the usage from your database when the usage key is missing.
	// Without it a missing key starts at zero.
	GetQuotaUsage GetQuota
	// GetQuotaUsageKey returns the Redis key of the quota's usage.
	GetQuotaUsageKey GetQuotaKey
	// GetQuotaUsageExpiration returns how long a stored usage is kept; without it, or
	// when it returns 0, the key does not expire.
	GetQuotaUsageExpiration GetQuotaExpiration
	// GetQuotaUsageConfig paces the loading of a missing usage key.
	GetQuotaUsageConfig GetQuotaUsageConfig
	// Next, if set, runs after a successful add with the same request; if it fails, the
	// add is undone (unless Option.Irreversible) and Do returns Next's error.
	Next   UpdateQuotaUsage
	Option AddUsageOption
}

// AddUsageOption holds the optional behaviour of AddQuotaUsage.
type AddUsageOption struct {
	// Listener is told how each Do ended.
	Listener UpdateQuotaUsageListener
	// Irreversible keeps the add even when Next fails.
	Irreversible bool
	// Coalesce sends concurrent adds to the same key together, as one script call that
	// decides them in arrival order with exactly the outcomes they would have had one by
	// one. While a call for a key is in flight, newcomers queue, and the queue goes as the
	// next call: no timer, no added wait when the key is quiet. It raises throughput on a
	// hot key (a flash sale). Each caller still gets its own result, error, listener call,
	// Next and undo. The Cache must be a BatchCache (both adapters are).
	Coalesce bool
}

type addQuotaUsage struct {
	usageStep
	getLimit  GetQuota
	coalescer *coalescer // nil unless Option.Coalesce
}

// AddQuotaUsage returns an UpdateQuotaUsage whose Do adds req.Usage to the quota in one
// atomic step: only if usage+req.Usage stays within the limit, otherwise nothing changes
// and the error wraps ErrQuotaLimitExceeded. It panics if a required field is missing. The result is
// safe for concurrent use; build it once and share it.
func AddQuotaUsage(conf AddQuotaUsageConfig) UpdateQuotaUsage {
	const name = "AddQuotaUsageConfig"
	mustHave(conf.Cache != nil, name, "Cache")
	mustHave(conf.GetQuotaLimit != nil, name, "GetQuotaLimit")
	mustHave(conf.GetQuotaUsageKey != nil, name, "GetQuotaUsageKey")
	var coalescer *coalescer
	if conf.Option.Coalesce {
		batchCache, ok := conf.Cache.(BatchCache)
		if !ok {
			panic("andromeda: AddQuotaUsageConfig.Option.Coalesce needs a Cache that implements BatchCache")
		}
		coalescer = newCoalescer(batchCache)
	}
	a := &addQuotaUsage{
		usageStep: usageStep{
			op:           opAdd,
			cache:        conf.Cache,
			getKey:       conf.GetQuotaUsageKey,
			loader:       newUsageLoader(conf.Cache, conf.GetQuotaUsage, conf.GetQuotaUsageExpiration, conf.GetQuotaUsageConfig),
			next:         conf.Next,
			irreversible: conf.Option.Irreversible,
			listener:     conf.Option.Listener,
		},
		getLimit:  conf.GetQuotaLimit,
		coalescer: coalescer,
	}
	a.changer = a
	return a
}

// Do adds req.Usage to the quota and returns the usage after it.
func (a *addQuotaUsage) Do(ctx context.Context, req *QuotaUsageRequest) (int64, error) {
	return a.run(ctx, req)
}

func (a *addQuotaUsage) change(ctx context.Context, key string, qreq *QuotaRequest, amount int64) (int64, error) {
	limit, err := a.getLimit.Do(ctx, qreq)
	if err != nil {
		return 0, fmt.Errorf("get quota limit: %w", err)
	}
	if limit < 0 || limit > MaxAmount {
		return 0, &QuotaError{Limit: limit, Err: invalid("GetQuotaLimit returned %d, want 0 to %d", limit, int64(MaxAmount))}
	}
	args := AddUsageArgs{Key: key, Amount: amount, Limit: limit}
	if a.loader.getUsage == nil {
		args.CreateMissing = true
		if args.Expiration, err = usageExpiration(ctx, a.loader.expiration, qreq); err != nil {
			return 0, &QuotaError{Limit: limit, Err: err}
		}
	}
	res, err := a.loader.retryMissing(ctx, key, qreq, func() (CacheResult, error) {
		if a.coalescer != nil {
			return a.coalescer.add(ctx, args)
		}
		return a.cache.AddUsage(ctx, args)
	})
	switch {
	case err != nil:
		return 0, &QuotaError{Limit: limit, Err: err}
	case res.Status != CacheApplied:
		return 0, &QuotaError{Limit: limit, Usage: res.Usage, Err: ErrQuotaLimitExceeded}
	}
	return res.Usage, nil
}

// undo takes back an add. A key that has gone missing since took the add with it.
func (a *addQuotaUsage) undo(ctx context.Context, key string, amount int64) error {
	res, err := a.cache.ReduceUsage(ctx, key, amount)
	if err == nil && res.Status == CacheBelowZero {
		err = fmt.Errorf("%w (usage %d)", ErrInvalidMinQuotaUsage, res.Usage)
	}
	return err
}
