package andromeda

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/singleflight"
)

// lockSuffix names the loader lock of a key. Appending keeps the key's hash tag, so the
// lock lives in the same cluster slot as the value.
const lockSuffix = ":andromeda-load-lock"

// loader puts a missing value (a usage, or a limit kept in Redis) back into the cache
// from the application's GetQuota, once per cold key: singleflight within the process, a
// cache lock across processes.
type loader struct {
	name           string   // the config field get came from, for errors
	get            GetQuota // nil: a missing usage starts at zero instead
	expirationName string
	expiration     GetQuotaExpiration
	cache          Cache
	conf           GetQuotaUsageConfig
	flights        singleflight.Group
}

func newUsageLoader(cache Cache, get GetQuota, expiration GetQuotaExpiration, conf GetQuotaUsageConfig) *loader {
	return &loader{name: "GetQuotaUsage", get: get, expirationName: "GetQuotaUsageExpiration", expiration: expiration,
		cache: cache, conf: conf.withDefaults()}
}

func newLimitLoader(cache Cache, get GetQuota, expiration GetQuotaExpiration, conf GetQuotaUsageConfig) *loader {
	return &loader{name: "GetQuotaLimit", get: get, expirationName: "GetQuotaLimitExpiration", expiration: expiration,
		cache: cache, conf: conf.withDefaults()}
}

// missingKey is what a change found absent: the key, and the loader that can fill it.
type missingKey struct {
	loader *loader
	key    string
}

// retryMissing runs change until it no longer finds a key missing, loading each key it
// reports, at most conf.MaxRetry times, RetryIn apart while another process loads.
func retryMissing(ctx context.Context, conf GetQuotaUsageConfig, req *QuotaRequest, change func() (*missingKey, error)) error {
	conf = conf.withDefaults()
	cause := ErrQuotaNotFound
	for retries := 0; ; retries++ {
		missing, err := change()
		if err != nil || missing == nil {
			return err
		}
		if retries == conf.MaxRetry {
			return fmt.Errorf("%w (%d): %w", ErrMaxRetryExceeded, conf.MaxRetry, cause)
		}
		cause = ErrQuotaNotFound
		err = missing.loader.load(ctx, missing.key, req)
		if errors.Is(err, ErrLockedKey) {
			// Another process is loading it: give it time.
			cause = err
			if err := sleep(ctx, conf.RetryIn); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
	}
}

// load puts the value of a missing key into the cache. Concurrent callers in this process
// share one load; a caller may leave early when its ctx ends, while the load itself goes
// on, bounded by LockIn, for the others.
func (l *loader) load(ctx context.Context, key string, req *QuotaRequest) error {
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

func (l *loader) loadLocked(ctx context.Context, key string, req *QuotaRequest) error {
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
	value, err := l.get.Do(ctx, req)
	if err != nil {
		return fmt.Errorf("%s: %w", l.name, err)
	}
	if value < 0 || value > MaxAmount {
		return invalid("%s returned %d, want 0 to %d", l.name, value, int64(MaxAmount))
	}
	expiration, err := l.expirationOf(ctx, req)
	if err != nil {
		return err
	}
	_, err = l.cache.SetUsageIfAbsent(ctx, key, value, expiration)
	return err
}

// expirationOf asks the expiration function, when configured, how long to keep a value.
func (l *loader) expirationOf(ctx context.Context, req *QuotaRequest) (time.Duration, error) {
	if l.expiration == nil {
		return 0, nil
	}
	expiration, err := l.expiration.Do(ctx, req)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", l.expirationName, err)
	}
	if expiration < 0 {
		return 0, invalid("%s returned %v, want 0 or more", l.expirationName, expiration)
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
