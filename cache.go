package andromeda

import (
	"context"
	"time"
)

// Cache is the storage andromeda keeps quota usage in: the few atomic operations the
// algorithms need. Use an adapter such as cache/redisv9 (recommended) or cache/redisv8;
// a custom implementation should pass the cache/cachetest conformance suite.
//
// Every method honours ctx. Usage values are whole numbers; a stored value that is not
// one makes the methods that read it fail with an error wrapping ErrInvalidCachedUsage.
type Cache interface {
	// AddUsage adds Amount to the usage at Key in one atomic step, only if the result
	// stays within the limit; otherwise it changes nothing and reports CacheLimitExceeded
	// with the usage it found. An absent key is reported as CacheMissing, or started from
	// zero when CreateMissing is set; an absent LimitKey as CacheLimitMissing.
	AddUsage(ctx context.Context, args AddUsageArgs) (CacheResult, error)

	// AddUsageBatch decides many adds to one key in order, in one atomic step, with the
	// outcome each would have had through AddUsage one after another, and returns one
	// result per add. Every add in a batch has the same Key, LimitKey, CreateMissing and
	// Expiration. AddUsageOption.Coalesce uses it.
	AddUsageBatch(ctx context.Context, batch []AddUsageArgs) ([]CacheResult, error)

	// ReduceUsage subtracts Amount from the usage at Key in one atomic step, only if the
	// result stays at or above zero; otherwise it changes nothing and reports
	// CacheBelowZero with the usage it found. An absent key is reported as CacheMissing.
	// Like every usage change it first releases the quota's expired holds, so an Amount
	// of 0 (without Idempotency) does that and nothing else (see ReleaseExpiredHolds).
	ReduceUsage(ctx context.Context, args ReduceUsageArgs) (CacheResult, error)

	// AddUsages adds the same amount to several quotas in one atomic step, all or
	// nothing: only if every usage stays within its limit. args[i].Amount must be equal.
	// On a cluster the keys must share a hash slot, or it fails with ErrCrossSlot.
	AddUsages(ctx context.Context, args []AddUsageArgs) (MultiResult, error)

	// ReduceUsages subtracts amount from the usage at every key in one atomic step, all
	// or nothing: only if every usage stays at or above zero.
	ReduceUsages(ctx context.Context, keys []string, amount int64) (MultiResult, error)

	// SetUsageIfAbsent stores value at key with the expiration (0 means none) only if the
	// key is absent, and reports whether it did.
	SetUsageIfAbsent(ctx context.Context, key string, value int64, expiration time.Duration) (bool, error)

	// SetValue stores value at key with the expiration (0 means none), whatever was there.
	SetValue(ctx context.Context, key string, value int64, expiration time.Duration) error

	// DeleteUsage deletes the usage at key and the keys in drop (state derived from the
	// usage, such as its hold buckets) in one atomic step, and returns the usage it
	// deleted; found is false when the key was absent (drop is deleted all the same). A
	// key that holds something andromeda did not write fails with an error wrapping
	// ErrInvalidCachedUsage, and nothing is deleted. drop must share key's cluster hash
	// slot. ForgetUsage uses it.
	DeleteUsage(ctx context.Context, key string, drop []string) (usage int64, found bool, err error)

	// GetUsage reads the usage at key; found is false when the key is absent.
	GetUsage(ctx context.Context, key string) (usage int64, found bool, err error)

	// GetUsages reads the usage at every key in as few round trips as the server allows
	// (one per cluster node); found[i] is false when keys[i] is absent.
	GetUsages(ctx context.Context, keys []string) (usages []int64, found []bool, err error)

	// ChangeHold reserves, commits or cancels a hold on the usage at args.Key (see
	// QuotaHolds), in one atomic step that first releases the quota's expired holds.
	ChangeHold(ctx context.Context, args HoldArgs) (CacheResult, error)

	// Lock takes a lock on key that expires after ttl unless released first. When another
	// holder has it, Lock fails at once with an error wrapping ErrLockedKey. The lock
	// fences the loader's write: see CacheLock.SetUsageIfAbsent.
	Lock(ctx context.Context, key string, ttl time.Duration) (CacheLock, error)
}

// CacheLock is a lock taken with Cache.Lock: a token only its holder knows, kept at the
// lock's key until it expires or is released.
type CacheLock interface {
	// SetUsageIfAbsent stores args.Value at args.Key only if the key is absent and this
	// lock is still held, in one atomic step with the check; when it stores, it also
	// deletes args.Drop. It reports whether it stored, and fails with an error wrapping
	// ErrLockedKey when the lock is no longer held (it expired, or someone released or
	// took it): a write that arrives late then changes nothing. args.Key and args.Drop
	// must share the lock key's cluster hash slot.
	SetUsageIfAbsent(ctx context.Context, args LoadArgs) (bool, error)
	// Release releases the lock if this holder still has it; otherwise it changes nothing.
	Release(ctx context.Context) error
}

// LoadArgs describes the loader's write (see CacheLock.SetUsageIfAbsent).
type LoadArgs struct {
	Key   string
	Value int64
	// Expiration is how long the value is kept; 0 means none.
	Expiration time.Duration
	// Drop lists keys holding state derived from the value that was evicted (such as
	// the holds kept on it), deleted in the same atomic step when Value is stored.
	Drop []string
}

// AddUsageArgs describes one atomic add (see Cache.AddUsage).
type AddUsageArgs struct {
	Key    string
	Amount int64
	// Limit is the limit, unless LimitKey is set.
	Limit int64
	// LimitKey, if set, is the key holding the limit, read in the same atomic step. It
	// must share Key's cluster hash slot (see LimitKey).
	LimitKey string
	// CreateMissing makes an absent key start from zero, so that the add is applied to
	// zero and the result stored with Expiration (0 means none). Without it an absent
	// key is reported as CacheMissing and nothing is written.
	CreateMissing bool
	Expiration    time.Duration
	// Idempotency, when set, makes the add apply at most once. Not with AddUsageBatch.
	Idempotency Idempotency
}

// ReduceUsageArgs describes one atomic reduce (see Cache.ReduceUsage).
type ReduceUsageArgs struct {
	Key    string
	Amount int64
	// Idempotency, when set, makes the reduce apply at most once.
	Idempotency Idempotency
}

// Idempotency ties a change to a record of its outcome, written in the same atomic step,
// so that the change applies at most once (see QuotaUsageRequest.IdempotencyKey).
type Idempotency struct {
	// RecordKey holds the outcome; empty means no record. It must share the usage key's
	// cluster hash slot. While it exists, the change is not applied again: its recorded
	// outcome is returned, with CacheResult.Replayed set; except that an add whose record
	// says it was taken back (see AddRecordKey and Forget) is a fresh attempt. Refusals
	// (limit exceeded, below zero) are recorded too; a missing usage is not.
	RecordKey string
	// Retention is how long the record is kept; it must be positive when RecordKey is set.
	Retention time.Duration
	// Forget marks the undo of a change whose Next failed, so that undoing twice changes
	// nothing. On a reduce, RecordKey is the record of the add it undoes: the add is taken
	// back only while the record says it was applied, and the record then says so, making
	// the add's retry a fresh attempt. On an add, it puts back a reduce: the add that the
	// reduce took back (see AddRecordKey) counts again, or else the reduce is put back
	// only while RecordKey exists, and RecordKey is deleted; with no limit but MaxAmount.
	Forget bool
	// AddRecordKey, on a reduce, is the record of the add with the same idempotency key.
	// While it exists the reduce is about that add, and RecordKey is not used: an add
	// that was applied is taken back (by its recorded amount) and its record marked so,
	// making the add's retry a fresh attempt and a repeat of the reduce a replay that
	// changes nothing; an add that was refused or taken back already leaves nothing to
	// take back. A reduce of another amount than the add's fails with an error wrapping
	// ErrInvalidRequest. On an add that puts back a reduce (Forget), it is the same key.
	AddRecordKey string
	// Attempt names the Do this change belongs to: the same for the library's retries of
	// it and for its undo, different for every other Do. It is kept in the record, so
	// that a late copy of an attempt (held up in the network, and delivered after its Do
	// was undone or its add taken back) changes nothing, while a new Do with the same
	// key is a fresh attempt. Letters, digits, "-" and "_" only; empty for none.
	Attempt string
}

// HoldOp is what ChangeHold does.
type HoldOp int

// The hold operations.
const (
	HoldReserve HoldOp = iota
	HoldCommit
	HoldCancel
)

// HoldArgs describes one hold operation (see Cache.ChangeHold). The keys that keep the
// holds are derived from Key and share its cluster hash slot.
type HoldArgs struct {
	Op     HoldOp
	Key    string // the usage, which counts committed usage plus active holds
	HoldID string
	// For HoldReserve: the amount to hold, the limit, how long the hold lasts, and what to
	// do with an absent usage, as in AddUsageArgs.
	Amount, Limit int64
	HoldFor       time.Duration
	CreateMissing bool
	Expiration    time.Duration
	// Retention is how long a closed hold is remembered, so that commit and cancel can
	// be repeated.
	Retention time.Duration
}

// CacheStatus says how an atomic usage change ended.
type CacheStatus int

// The ways an atomic usage change can end.
const (
	// CacheApplied: the change was made; CacheResult.Usage is the usage after it.
	CacheApplied CacheStatus = iota
	// CacheMissing: the usage key is absent; nothing was changed.
	CacheMissing
	// CacheLimitExceeded: the add would pass the limit; nothing was changed.
	CacheLimitExceeded
	// CacheBelowZero: the reduce would go below zero; nothing was changed.
	CacheBelowZero
	// CacheLimitMissing: AddUsageArgs.LimitKey is absent; nothing was changed.
	CacheLimitMissing
	// CacheHoldExpired: the hold expired and was released; nothing was changed.
	CacheHoldExpired
	// CacheHoldCancelled: the hold was cancelled; nothing was changed.
	CacheHoldCancelled
	// CacheHoldNotFound: there is no such hold, or it is long forgotten.
	CacheHoldNotFound
	// CacheHoldCommitted: the hold was committed; nothing was changed.
	CacheHoldCommitted
)

// String names the status.
func (s CacheStatus) String() string {
	switch s {
	case CacheApplied:
		return "applied"
	case CacheMissing:
		return "missing"
	case CacheLimitExceeded:
		return "limit exceeded"
	case CacheBelowZero:
		return "below zero"
	case CacheLimitMissing:
		return "limit missing"
	case CacheHoldExpired:
		return "hold expired"
	case CacheHoldCancelled:
		return "hold cancelled"
	case CacheHoldNotFound:
		return "hold not found"
	case CacheHoldCommitted:
		return "hold committed"
	}
	return "unknown"
}

// CacheResult is the outcome of an atomic usage change.
type CacheResult struct {
	Status CacheStatus
	// Usage is the usage after the change when it was applied, and the usage found
	// when it was refused (0 when the key is missing).
	Usage int64
	// Limit is the limit the add was checked against (adds only).
	Limit int64
	// Replayed is true when the outcome was read from an idempotency record: nothing
	// changed this time.
	Replayed bool
}

// MultiResult is the outcome of an all-or-nothing change to several quotas.
type MultiResult struct {
	Status CacheStatus
	// Index is the quota that was missing, or that refused the change; -1 when applied.
	Index int
	// Usages are the usages after the change when it was applied, and the usages found
	// when it was refused (nil when a key is missing).
	Usages []int64
}
