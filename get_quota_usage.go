package andromeda

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/singleflight"
)

// lockSuffix names the loader lock of a usage key. Appending keeps the key's hash tag,
// so the lock lives in the same cluster slot as the usage.
const lockSuffix = ":andromeda-load-lock"

// usageLoader puts a missing usage key back into the cache from GetQuotaUsage, once per
// cold key: singleflight within the process, a cache lock across processes.
type usageLoader struct {
	cache      Cache
	getUsage   GetQuota // nil: a missing key starts at zero
	expiration GetQuotaExpiration
	conf       GetQuotaUsageConfig
	flights    singleflight.Group
}

func newUsageLoader(cache Cache, getUsage GetQuota, expiration GetQuotaExpiration, conf GetQuotaUsageConfig) *usageLoader {
	return &usageLoader{cache: cache, getUsage: getUsage, expiration: expiration, conf: conf.withDefaults()}
}

// retryMissing runs change until it finds the usage key present, loading the usage each
// time change reports it missing, at most MaxRetry times.
func (l *usageLoader) retryMissing(ctx context.Context, key string, req *QuotaRequest, change func() (CacheResult, error)) (CacheResult, error) {
	cause := ErrQuotaNotFound
	for retries := 0; ; retries++ {
		res, err := change()
		if err != nil || res.Status != CacheMissing || l.getUsage == nil {
			return res, err
		}
		if retries == l.conf.MaxRetry {
			return res, fmt.Errorf("%w (%d): %w", ErrMaxRetryExceeded, l.conf.MaxRetry, cause)
		}
		cause = ErrQuotaNotFound
		if err := l.load(ctx, key, req); errors.Is(err, ErrLockedKey) {
			// Another process is loading it: give it time.
			cause = err
			if err := sleep(ctx, l.conf.RetryIn); err != nil {
				return res, err
			}
		} else if err != nil {
			return res, err
		}
	}
}

// load puts the usage of a missing key into the cache. Concurrent callers in this
// process share one load; the caller may leave early when its ctx ends, while the load
// itself goes on, bounded by LockIn, for the others.
func (l *usageLoader) load(ctx context.Context, key string, req *QuotaRequest) error {
	flight := l.flights.DoChan(key, func() (interface{}, error) {
		loadCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.conf.LockIn)
		defer cancel()
		return nil, l.loadLocked(loadCtx, key, req)
	})
	select {
	case res := <-flight:
		return res.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *usageLoader) loadLocked(ctx context.Context, key string, req *QuotaRequest) error {
	release, err := l.cache.Lock(ctx, key+lockSuffix, l.conf.LockIn)
	if err != nil {
		return err
	}
	// The lock expires after LockIn anyway; releasing early only lets others in sooner.
	defer func() { _ = release(context.WithoutCancel(ctx)) }()

	// Whoever held the lock before us may have loaded it already.
	if _, found, err := l.cache.GetUsage(ctx, key); err != nil || found {
		return err
	}
	usage, err := l.getUsage.Do(ctx, req)
	if err != nil {
		return fmt.Errorf("get quota usage: %w", err)
	}
	if usage < 0 || usage > MaxAmount {
		return invalid("GetQuotaUsage returned %d, want 0 to %d", usage, int64(MaxAmount))
	}
	expiration, err := usageExpiration(ctx, l.expiration, req)
	if err != nil {
		return err
	}
	_, err = l.cache.SetUsageIfAbsent(ctx, key, usage, expiration)
	return err
}

// usageExpiration asks GetQuotaUsageExpiration, when configured, how long to keep usage.
func usageExpiration(ctx context.Context, get GetQuotaExpiration, req *QuotaRequest) (time.Duration, error) {
	if get == nil {
		return 0, nil
	}
	expiration, err := get.Do(ctx, req)
	if err != nil {
		return 0, fmt.Errorf("get quota usage expiration: %w", err)
	}
	if expiration < 0 {
		return 0, invalid("GetQuotaUsageExpiration returned %v, want 0 or more", expiration)
	}
	return expiration, nil
}

// sleep waits d, or less if ctx ends first.
func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
