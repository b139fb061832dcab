package andromeda

import (
	"context"
	"fmt"
	"time"
)

// ReduceQuotaUsageConfig configures ReduceQuotaUsage. Cache and GetQuotaUsageKey are
// required.
type ReduceQuotaUsageConfig struct {
	Cache Cache
	// GetQuotaUsage loads the usage from your database when the usage key is missing.
	// Without it a missing key counts as zero, so a reduce on it fails with
	// ErrInvalidMinQuotaUsage.
	GetQuotaUsage GetQuota
	// GetQuotaUsageKey returns the Redis key of the quota's usage.
	GetQuotaUsageKey GetQuotaKey
	// GetQuotaUsageExpiration returns how long a loaded usage is kept; without it, or
	// when it returns 0, the key does not expire.
	GetQuotaUsageExpiration GetQuotaExpiration
	// GetQuotaUsageConfig paces the loading of a missing usage key.
	GetQuotaUsageConfig GetQuotaUsageConfig
	// GetQuotaLimit, optional, is used only to undo a reduce whose Next failed: the reduce
	// is put back up to the higher of the limit and the usage it started from, never past
	// both (when others' adds took the units it freed meanwhile, it stays applied and Do
	// fails with ErrUndoFailed). Without it the limit kept in Redis (an add's
	// Option.CacheLimit) is used, when it is there as the undo runs (it may have expired
	// meanwhile); otherwise the put-back is bounded by MaxAmount only, and may pass the
	// limit.
	GetQuotaLimit GetQuota
	// Next, if set, runs after a successful reduce with the same request; if it fails,
	// the reduce is undone (unless Option.Irreversible) and Do returns Next's error.
	Next   UpdateQuotaUsage
	Option ReduceUsageOption
}

// ReduceUsageOption holds the optional behaviour of ReduceQuotaUsage.
type ReduceUsageOption struct {
	// Listener is told how each Do ended.
	Listener UpdateQuotaUsageListener
	// Irreversible keeps the reduce even when Next fails.
	// Do then returns Next's error as it is, even a refusal that says nothing changed:
	// that is Next's answer, and this change stays counted, as asked.
	Irreversible bool
	// IdempotencyRetention is how long the outcome of a request with an IdempotencyKey
	// is kept; 0 means DefaultIdempotencyRetention.
	IdempotencyRetention time.Duration
}

// quotaReduce is the change of ReduceQuotaUsage.
type quotaReduce struct {
	cache     *store
	pace      GetQuotaUsageConfig
	quota     Quota // GetQuotaLimit, optional, bounds the undo
	retention time.Duration
	usage     *loader
}

// ReduceQuotaUsage returns an UpdateQuotaUsage whose Do subtracts req.Usage from the
// quota in one atomic step: only if the usage stays at or above zero, otherwise nothing
// changes and the error wraps ErrInvalidMinQuotaUsage. It panics if a required field is
// missing. The result is safe for concurrent use; build it once and share it.
func ReduceQuotaUsage(conf ReduceQuotaUsageConfig) UpdateQuotaUsage {
	const name = "ReduceQuotaUsageConfig"
	q := Quota{GetQuotaLimit: conf.GetQuotaLimit, GetQuotaUsage: conf.GetQuotaUsage, GetQuotaUsageKey: conf.GetQuotaUsageKey,
		GetQuotaUsageExpiration: conf.GetQuotaUsageExpiration}
	mustSet(name, configField{"Cache", conf.Cache})
	mustBeQuota(name, "", q, false)
	mustBeUsable(name, configField{"GetQuotaLimit", conf.GetQuotaLimit}, configField{"Next", conf.Next},
		configField{"Option.Listener", conf.Option.Listener})
	r := &quotaReduce{cache: newStore(conf.Cache), pace: conf.GetQuotaUsageConfig, quota: q,
		retention: conf.Option.IdempotencyRetention, usage: q.usageLoader(conf.Cache, conf.GetQuotaUsageConfig)}
	return &usageStep{op: opReduce, apply: r.change, next: conf.Next, irreversible: conf.Option.Irreversible, listener: conf.Option.Listener}
}

func (r *quotaReduce) change(ctx context.Context, qreq *QuotaRequest, req *QuotaUsageRequest, attempt string, undoable bool) (int64, string, undoFunc, error) {
	key, err := usageKey(ctx, r.quota.GetQuotaUsageKey, qreq)
	if err != nil {
		return 0, "", nil, err
	}
	args := reduceUsageArgs{Key: key, Amount: req.Usage, Idempotency: reduceIdempotency(key, req, r.retention, attempt)}
	var res cacheResult
	err = retryMissing(ctx, r.pace, qreq, func() (*missingKey, error) {
		var err error
		res, err = retryUnknown(ctx, args.Idempotency.Retention, func() (cacheResult, error) {
			return r.cache.ReduceUsage(ctx, args)
		})
		if err == nil && res.Status == cacheMissing && r.usage.get != nil {
			return &missingKey{r.usage, key}, nil
		}
		return nil, err
	})
	switch {
	case err != nil:
		return 0, key, nil, err
	case res.Status != cacheApplied:
		return 0, key, nil, &QuotaError{Usage: res.Usage, Err: ErrInvalidMinQuotaUsage}
	}
	if !undoable {
		return res.Usage, key, nil, nil
	}
	// The undo puts the reduce back: the add it took back counts again, or its own
	// record goes.
	back := addUsageArgs{Key: key, Amount: req.Usage, Idempotency: forgetting(args.Idempotency)}
	return res.Usage, key, func(ctx context.Context) error {
		return putBackReduce(ctx, r.cache, back, res, r.quota.GetQuotaLimit, qreq)
	}, nil
}

// reduceIdempotency is the record of a reduce with req's idempotency key, and the record
// of the add with the same key: a reduce that carries the key of an applied add takes
// that add back (see Idempotency.AddRecordKey).
func reduceIdempotency(key string, req *QuotaUsageRequest, retention time.Duration, attempt string) idempotencyArgs {
	idem := idempotency(key, opReduce, req, retention, attempt)
	if idem.RecordKey != "" {
		idem.AddRecordKey = recordKey(key, opAdd, req.IdempotencyKey)
	}
	return idem
}

// putBackReduce undoes a reduce with an add bounded by putBackLimit, so that it never
// oversells: when others' adds took the units the reduce freed, it is refused, and the
// reduce stays applied. A key gone missing since took the reduce with it.
func putBackReduce(ctx context.Context, cache *store, args addUsageArgs, res cacheResult, getLimit GetQuota, qreq *QuotaRequest) error {
	limit, err := putBackLimit(ctx, cache, args.Key, args.Amount, res, getLimit, qreq)
	if err != nil {
		return fmt.Errorf("put back: %w", err)
	}
	args.Limit = limit
	ctx, cancel := undoSends(ctx)
	defer cancel()
	put, err := retryUnknown(ctx, args.Idempotency.Retention, func() (cacheResult, error) { return cache.AddUsage(ctx, args) })
	if err != nil {
		return fmt.Errorf("put back: %w", err)
	}
	if put.Status == cacheLimitExceeded {
		return putBackRefused(args.Amount, args.Key, put.Usage, limit)
	}
	return nil
}

// putBackRefused is the error of a put-back of amount on key refused at usage, which
// would have passed limit: others' adds took the units the reduce freed.
func putBackRefused(amount int64, key string, usage, limit int64) error {
	return fmt.Errorf("put back %d on key %q: others' adds took the units it freed (usage %d, at most %d after putting it back): %w",
		amount, key, usage, limit, ErrQuotaLimitExceeded)
}

// putBackLimit is how high the put-back of a reduce of amount on key that answered res
// may take the usage. The usage before the reduce (res.Usage + amount) is always safe:
// it was there already. A reduce that knows the quota's limit (from getLimit, else the
// limit kept in Redis at LimitKey(key), an add's Option.CacheLimit) may go up to it too,
// so that concurrent undos never refuse each other. A replayed reduce answered today's
// usage, not the one it left, so only the limit bounds it; with no limit known, only
// MaxAmount does (see the README's Known limits). When the limit cannot be had (the
// function fails or panics, the limit key holds something else), the usage before the
// reduce bounds it, or, for a replay, the put-back fails. (A panic in getLimit goes on to
// the step, which tells the listener the undo failed and raises it again.)
func putBackLimit(ctx context.Context, cache *store, key string, amount int64, res cacheResult, getLimit GetQuota, qreq *QuotaRequest) (int64, error) {
	limit, known, err := quotaLimitForUndo(ctx, cache, key, getLimit, qreq)
	before := min(res.Usage, MaxAmount-amount) + amount
	switch {
	case err != nil && res.Replayed:
		return 0, err
	case err != nil:
		return before, nil
	case !known:
		return MaxAmount, nil
	case res.Replayed:
		return limit, nil
	}
	return max(limit, before), nil
}

// quotaLimitForUndo is the quota's limit from getLimit, else the limit kept in Redis;
// known is false when there is neither.
func quotaLimitForUndo(ctx context.Context, cache *store, key string, getLimit GetQuota, qreq *QuotaRequest) (limit int64, known bool, err error) {
	if getLimit != nil {
		limit, err = quotaLimit(ctx, getLimit, qreq)
		return limit, err == nil, err
	}
	ctx, cancel := undoSends(ctx)
	defer cancel()
	return cache.GetUsage(ctx, LimitKey(key))
}
