// Package storetypes holds the arguments and results of the root package's store: the
// inputs and outcomes of its scripts, which users never touch. The root package uses them
// through unexported aliases; cache/cachetest reaches them through internal/storehook.
package storetypes

import "time"

// LoadArgs describes the loader's write (the fenced write under the loader lock, fenced_load.lua).
type LoadArgs struct {
	Key   string
	Value int64
	// Expiration is how long the value is kept; 0 means none.
	Expiration time.Duration
	// Drop lists keys holding state derived from the value that was evicted (such as
	// the holds kept on it), deleted in the same atomic step when Value is stored.
	Drop []string
}

// AddUsageArgs describes one atomic add (the store's AddUsage, add.lua).
type AddUsageArgs struct {
	Key    string
	Amount int64
	// Limit is the limit, unless LimitKey is set.
	Limit int64
	// LimitKey, if set, is the key holding the limit, read in the same atomic step. It
	// must share Key's cluster hash slot (see andromeda.LimitKey).
	LimitKey string
	// CreateMissing makes an absent key start from zero, so that the add is applied to
	// zero and the result stored with Expiration (0 means none). Without it an absent
	// key is reported as CacheMissing and nothing is written.
	CreateMissing bool
	Expiration    time.Duration
	// Idempotency, when set, makes the add apply at most once. Not with AddUsageBatch.
	Idempotency Idempotency
}

// ReduceUsageArgs describes one atomic reduce (the store's ReduceUsage, reduce.lua).
type ReduceUsageArgs struct {
	Key    string
	Amount int64
	// Idempotency, when set, makes the reduce apply at most once.
	Idempotency Idempotency
}

// Idempotency ties a change to a record of its outcome, written in the same atomic step,
// so that the change applies at most once (see andromeda.QuotaUsageRequest.IdempotencyKey).
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

// HoldArgs describes one hold operation (the store's ChangeHold, hold.lua). The keys that keep the
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
