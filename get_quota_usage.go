package andromeda

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"golang.org/x/sync/singleflight"
)

// lockSuffix names the loader lock of a key. The lock key keeps the value's cluster slot
// (see loadLockKey), so that one script can check the lock and write the value.
const lockSuffix = ":andromeda-load-lock"

// loadLockKey is the key of the loader lock of key, in key's cluster hash slot: key's own
// hash tag is kept when it has one; otherwise the whole key becomes the tag.
func loadLockKey(key string) string { return sameSlotKey(key, lockSuffix) }

// loader puts a missing value (a usage, or a limit kept in Redis) back into the cache
// from the application's GetQuota, once per cold key: singleflight within the process, a
// cache lock across processes.
type loader struct {
	name           string   // the config field get came from, for errors
	get            GetQuota // nil: a missing usage starts at zero instead
	expirationName string
	expiration     GetQuotaExpiration
	cache          *store
	conf           GetQuotaUsageConfig
	// derived, when set, names the keys that hold state derived from the value at a key
	// (such as holds kept on a usage): they are deleted in the same atomic step as a
	// loaded value is written, since what they were derived from is gone.
	derived func(key string) []string
	flights singleflight.Group
}

func newUsageLoader(cache Cache, get GetQuota, expiration GetQuotaExpiration, conf GetQuotaUsageConfig) *loader {
	return &loader{name: "GetQuotaUsage", get: get, expirationName: "GetQuotaUsageExpiration", expiration: expiration,
		cache: newStore(cache), conf: conf.withDefaults(), derived: holdBuckets}
}

// holdBuckets names the hold buckets kept on the usage at key: holds are counted in the
// usage, so a usage loaded afresh must not have expired holds released against it.
func holdBuckets(key string) []string {
	buckets, _ := HoldKeys(key, "")
	return []string{buckets}
}

func newLimitLoader(cache Cache, get GetQuota, expiration GetQuotaExpiration, conf GetQuotaUsageConfig) *loader {
	return &loader{name: "GetQuotaLimit", get: get, expirationName: "GetQuotaLimitExpiration", expiration: expiration,
		cache: newStore(cache), conf: conf.withDefaults()}
}

// missingKey is what a change found absent: the key, and the loader that can fill it.
type missingKey struct {
	loader *loader
	key    string
}

// firstLockWait is the first wait for a load that another process is running; the waits
// double from there up to RetryIn, so that a quick load (a few ms) is seen a few ms after
// it lands, and a slow one costs a request every RetryIn at most.
const firstLockWait = time.Millisecond

// retryMissing runs change until it no longer finds a key missing, loading each key it
// reports. While another process holds the key's loader lock, the load is tried again
// after waits growing from firstLockWait to RetryIn: each try is one lock attempt and, when
// the lock is held elsewhere, one look at the key, shared by every caller in this process
// (singleflight), never one call per caller, so that thousands of waiters do not crowd out
// the load they wait for. change runs again once the value is there or loaded. The waits
// end with ErrMaxRetryExceeded (and ErrLockedKey) once twice LockIn has passed since the
// first of them: time for a holder that died to lose its lock, and for the next loader to
// load. A key found missing again after MaxRetry loads of it (evicted as soon as written)
// ends with ErrMaxRetryExceeded and ErrQuotaNotFound. ctx ends it sooner.
func retryMissing(ctx context.Context, conf GetQuotaUsageConfig, req *QuotaRequest, change func() (*missingKey, error)) error {
	conf = conf.withDefaults()
	var waitingSince time.Time
	wait := firstLockWait
	var loads map[string]int // per key: a limit's loads do not count against its usage's; made at the first load
	for {
		missing, err := change()
		if err != nil || missing == nil {
			return err
		}
		countMissing(ctx)
		if loads[missing.key] == conf.MaxRetry {
			return fmt.Errorf("%w (%d loads): %w", ErrMaxRetryExceeded, conf.MaxRetry, ErrQuotaNotFound)
		}
		for {
			err = missing.loader.load(ctx, missing.key, req)
			if err == nil {
				break
			}
			if !errors.Is(err, ErrLockedKey) {
				return err
			}
			// Another process is loading it: try again soon.
			countLockWait(ctx)
			now := time.Now()
			if waitingSince.IsZero() {
				waitingSince = now
			}
			left := twice(conf.LockIn) - now.Sub(waitingSince)
			if left <= 0 {
				return fmt.Errorf("%w (waited %v for the load of %q): %w", ErrMaxRetryExceeded,
					now.Sub(waitingSince).Round(time.Millisecond), missing.key, err)
			}
			if err := sleep(ctx, min(wait, left)); err != nil {
				return err
			}
			wait = min(2*wait, conf.RetryIn)
		}
		if loads == nil {
			loads = map[string]int{}
		}
		loads[missing.key]++
	}
}

// twice returns 2*d, saturating: a LockIn of "forever" must not overflow into no wait at all.
func twice(d time.Duration) time.Duration {
	if d > math.MaxInt64/2 {
		return math.MaxInt64
	}
	return 2 * d
}

// loadPanic carries a panic of a shared load (GetQuotaUsage, the Cache) to each caller
// waiting for it: singleflight's DoChan would raise it on a goroutine of its own, where
// no recover can catch it and the process dies.
type loadPanic struct{ value any }

func (p *loadPanic) Error() string { return fmt.Sprintf("the load panicked: %v", p.value) }

// load puts the value of a missing key into the cache. Concurrent callers in this process
// share one load; a caller may leave early when its ctx ends, while the load itself goes
// on, bounded by LockIn, for the others.
//
// A panic in the load is raised again on each waiting caller's goroutine.
func (l *loader) load(ctx context.Context, key string, req *QuotaRequest) error {
	flight := l.flights.DoChan(key, func() (_ any, err error) {
		defer func() {
			if p := recover(); p != nil {
				err = &loadPanic{value: p}
			}
		}()
		return nil, l.loadLocked(context.WithoutCancel(ctx), key, req)
	})
	select {
	case res := <-flight:
		if p, ok := res.Err.(*loadPanic); ok {
			panic(p.value) // on the caller's goroutine, where its server can recover it
		}
		return res.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// loadLocked takes the loader lock, within LockIn, and loads under it, within LockIn from
// when it was taken: the lock's own time. A step that runs out of either (a slow Redis, a
// busy connection pool, a slow database) fails with ErrLockedKey, so that the callers, whose
// own contexts have not ended, look again and wait as for a load held elsewhere.
func (l *loader) loadLocked(ctx context.Context, key string, req *QuotaRequest) error {
	lockCtx, cancel := context.WithTimeout(ctx, l.conf.LockIn)
	lock, err := l.cache.Lock(lockCtx, loadLockKey(key), l.conf.LockIn)
	cancel()
	if errors.Is(err, ErrLockedKey) {
		// Held elsewhere: its holder may have loaded the value already (and died, or
		// not released the lock yet). One look, for every caller waiting here.
		lookCtx, cancel := context.WithTimeout(ctx, l.conf.LockIn)
		defer cancel()
		if _, found, lookErr := l.cache.GetUsage(lookCtx, key); lookErr == nil && found {
			return nil
		}
		return err
	}
	if err != nil {
		return l.outOfTime(lockCtx, key, err)
	}
	ctx, cancel = context.WithTimeout(ctx, l.conf.LockIn)
	defer cancel()
	// The lock expires after LockIn anyway; releasing early only lets others in sooner.
	defer func() { _ = lock.Release(context.WithoutCancel(ctx)) }()
	return l.outOfTime(ctx, key, l.loadUnder(ctx, lock, key, req))
}

// outOfTime says ErrLockedKey for an error of a load step whose ctx (the loader's own,
// LockIn long) has ended: its deadline is not the callers' to report.
func (l *loader) outOfTime(ctx context.Context, key string, err error) error {
	// DeadlineExceeded, not any Err: a ctx cancelled once its step returned did not run out.
	if err == nil || !errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, ErrLockedKey) {
		return err
	}
	return fmt.Errorf("%w: the load of %q ran out of LockIn (%v): %v", ErrLockedKey, key, l.conf.LockIn, err)
}

// loadUnder loads the value of key while lock is held, unless it is there already.
func (l *loader) loadUnder(ctx context.Context, lock *lock, key string, req *QuotaRequest) error {
	// Whoever held the lock before us may have loaded it already.
	if _, found, err := l.cache.GetUsage(ctx, key); err != nil || found {
		return err
	}
	value, err := l.get.Do(ctx, req)
	if err != nil {
		return fmt.Errorf("%s: %w", l.name, err)
	}
	countLoad(ctx)
	if value < 0 || value > MaxAmount {
		return invalid("%s returned %d, want 0 to %d", l.name, value, int64(MaxAmount))
	}
	expiration, err := l.expirationOf(ctx, req)
	if err != nil {
		return err
	}
	// Fenced by the lock: if it expired before this write reaches Redis (a slow network,
	// a paused process), another loader may have loaded and the value changed, been
	// synced and evicted since; writing the stale value would let that much be sold
	// again. The write then changes nothing and fails with ErrLockedKey, so the caller
	// waits and retries as with any lock held elsewhere.
	load := loadArgs{Key: key, Value: value, Expiration: expiration}
	if l.derived != nil {
		load.Drop = l.derived(key)
	}
	_, err = lock.SetUsageIfAbsent(ctx, load)
	if errors.Is(err, ErrUnknownOutcome) {
		// Whether the value landed is not known, but no change of the caller's was made:
		// look again, as when another process is loading.
		return fmt.Errorf("%w: the loaded value's write had an unknown outcome: %v", ErrLockedKey, err)
	}
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
