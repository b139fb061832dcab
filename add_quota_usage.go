package andromeda

import (
	"context"
	"fmt"
	"time"
)

// AddQuotaUsageConfig configures AddQuotaUsage. Cache, GetQuotaLimit and
// GetQuotaUsageKey are required.
type AddQuotaUsageConfig struct {
	Cache Cache
	// GetQuotaLimit returns the quota's limit. It is asked on every Do, or, with
	// Option.CacheLimit, only when the limit kept in Redis is missing.
	GetQuotaLimit GetQuota
	// GetQuotaUsage loads the usage from your database when the usage key is missing.
	// Without it a missing key starts at zero.
	GetQuotaUsage GetQuota
	// GetQuotaUsageKey returns the Redis key of the quota's usage.
	GetQuotaUsageKey GetQuotaKey
	// GetQuotaUsageExpiration returns how long a stored usage is kept; without it, or
	// when it returns 0, the key does not expire.
	GetQuotaUsageExpiration GetQuotaExpiration
	// GetQuotaLimitExpiration returns how long a limit kept in Redis (Option.CacheLimit)
	// is kept before it is loaded again from GetQuotaLimit; without it, or when it
	// returns 0, it stays until SetQuotaLimit changes it.
	GetQuotaLimitExpiration GetQuotaExpiration
	// GetQuotaUsageConfig paces the loading of a missing key.
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
	// Do then returns Next's error as it is, even a refusal that says nothing changed:
	// that is Next's answer, and this change stays counted, as asked.
	Irreversible bool
	// Coalesce sends concurrent adds to the same key together, as one script call that
	// decides them in arrival order with exactly the outcomes they would have had one by
	// one. An add on a key with nothing in flight goes straight out from the caller's
	// goroutine as a plain add; only an add that finds a call in flight for its key
	// queues, and the queue goes as the next call: no timer, no added wait when the key is
	// quiet, and no cost when adds are spread over many keys. It raises throughput on a
	// hot key (a flash sale) several times. Each caller still gets its own result, error,
	// listener call, Next and undo. Adds with an IdempotencyKey are sent alone.
	Coalesce bool
	// CacheLimit keeps the limit in Redis at LimitKey(usage key), loaded from
	// GetQuotaLimit through the same locked loader as the usage and read by the same
	// atomic script: a warm add makes no call to GetQuotaLimit and stays one round trip.
	// Change a limit with SetQuotaLimit.
	CacheLimit bool
	// IdempotencyRetention is how long the outcome of a request with an IdempotencyKey
	// is kept; 0 means DefaultIdempotencyRetention.
	IdempotencyRetention time.Duration
}

// quotaAdd is the change of AddQuotaUsage.
type quotaAdd struct {
	cache     *store
	pace      GetQuotaUsageConfig
	quota     Quota
	retention time.Duration
	usage     *loader
	limit     *loader    // nil unless Option.CacheLimit
	coalescer *coalescer // nil unless Option.Coalesce
}

// AddQuotaUsage returns an UpdateQuotaUsage whose Do adds req.Usage to the quota in one
// atomic step: only if usage+req.Usage stays within the limit, otherwise nothing changes
// and the error wraps ErrQuotaLimitExceeded. It panics if a required field is missing. The
// result is safe for concurrent use; build it once and share it.
func AddQuotaUsage(conf AddQuotaUsageConfig) UpdateQuotaUsage {
	const name = "AddQuotaUsageConfig"
	q := Quota{GetQuotaLimit: conf.GetQuotaLimit, GetQuotaUsage: conf.GetQuotaUsage,
		GetQuotaUsageKey: conf.GetQuotaUsageKey, GetQuotaUsageExpiration: conf.GetQuotaUsageExpiration}
	mustSet(name, configField{"Cache", conf.Cache})
	mustBeQuota(name, "", q, true)
	mustBeUsable(name, configField{"GetQuotaLimitExpiration", conf.GetQuotaLimitExpiration},
		configField{"Next", conf.Next}, configField{"Option.Listener", conf.Option.Listener})
	a := &quotaAdd{cache: newStore(conf.Cache), pace: conf.GetQuotaUsageConfig, quota: q,
		retention: conf.Option.IdempotencyRetention, usage: q.usageLoader(conf.Cache, conf.GetQuotaUsageConfig)}
	if conf.Option.CacheLimit {
		a.limit = newLimitLoader(conf.Cache, conf.GetQuotaLimit, conf.GetQuotaLimitExpiration, conf.GetQuotaUsageConfig)
	}
	if conf.Option.Coalesce {
		a.coalescer = newCoalescer(conf.Cache)
	}
	return &usageStep{op: opAdd, apply: a.change, next: conf.Next, irreversible: conf.Option.Irreversible, listener: conf.Option.Listener}
}

func (a *quotaAdd) change(ctx context.Context, qreq *QuotaRequest, req *QuotaUsageRequest, attempt string, undoable bool) (int64, string, undoFunc, error) {
	key, err := usageKey(ctx, a.quota.GetQuotaUsageKey, qreq)
	if err != nil {
		return 0, "", nil, err
	}
	args := addUsageArgs{Key: key, Amount: req.Usage, Idempotency: idempotency(key, opAdd, req, a.retention, attempt)}
	if a.limit != nil {
		args.LimitKey = LimitKey(key)
	} else if args.Limit, err = quotaLimit(ctx, a.quota.GetQuotaLimit, qreq); err != nil {
		return 0, key, nil, err
	}
	if a.usage.get == nil {
		args.CreateMissing = true
		if args.Expiration, err = a.usage.expirationOf(ctx, qreq); err != nil {
			return 0, key, nil, &QuotaError{Limit: args.Limit, Err: err}
		}
	}

	var res cacheResult
	err = retryMissing(ctx, a.pace, qreq, func() (*missingKey, error) {
		var err error
		if a.coalescer != nil && args.Idempotency.RecordKey == "" {
			res, err = a.coalescer.add(ctx, args)
		} else {
			res, err = retryUnknown(ctx, args.Idempotency.Retention, func() (cacheResult, error) {
				return a.cache.AddUsage(ctx, args)
			})
		}
		switch {
		case err != nil:
			return nil, err
		case res.Status == cacheMissing && a.usage.get != nil:
			return &missingKey{a.usage, key}, nil
		case res.Status == cacheLimitMissing:
			return &missingKey{a.limit, args.LimitKey}, nil
		}
		return nil, nil
	})
	switch {
	case err != nil:
		return 0, key, nil, &QuotaError{Limit: args.Limit, Err: err}
	case res.Status != cacheApplied:
		return 0, key, nil, &QuotaError{Limit: res.Limit, Usage: res.Usage, Err: ErrQuotaLimitExceeded}
	}
	if !undoable {
		return res.Usage, key, nil, nil
	}
	// The undo also marks the add's idempotency record undone, so that a retry is a fresh
	// attempt and a compensating reduce finds nothing more to take back.
	back := reduceUsageArgs{Key: key, Amount: req.Usage, Idempotency: forgetting(args.Idempotency)}
	return res.Usage, key, func(ctx context.Context) error {
		ctx, cancel := undoSends(ctx)
		defer cancel()
		return takeBackAdd(ctx, a.cache, back)
	}, nil
}

// quotaLimit asks GetQuotaLimit for the limit, and checks it.
func quotaLimit(ctx context.Context, getLimit GetQuota, qreq *QuotaRequest) (int64, error) {
	limit, err := getLimit.Do(ctx, qreq)
	if err != nil {
		return 0, fmt.Errorf("get quota limit: %w", err)
	}
	if limit < 0 || limit > MaxAmount {
		return 0, &QuotaError{Limit: limit, Err: invalid("GetQuotaLimit returned %d, want 0 to %d", limit, int64(MaxAmount))}
	}
	return limit, nil
}

// takeBackAdd undoes an add with a reduce; a key gone missing since took the add with it.
func takeBackAdd(ctx context.Context, cache *store, args reduceUsageArgs) error {
	res, err := retryUnknown(ctx, args.Idempotency.Retention, func() (cacheResult, error) {
		return cache.ReduceUsage(ctx, args)
	})
	if err == nil && res.Status == cacheBelowZero {
		err = fmt.Errorf("%w (key %q, usage %d)", ErrInvalidMinQuotaUsage, args.Key, res.Usage)
	}
	return err
}
