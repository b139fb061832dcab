package andromeda

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Errors returned by Do wrap one of them (test with errors.Is) inside a
// *QuotaError that carries the quota, key, limit, usage and requested amount.
var (
	// ErrQuotaLimitExceeded: adding the requested usage would pass the limit; nothing changed.
	ErrQuotaLimitExceeded = errors.New("quota limit exceeded")
	// ErrInvalidMinQuotaUsage: reducing the requested usage would go below zero; nothing changed.
	ErrInvalidMinQuotaUsage = errors.New("quota usage cannot go below zero")
	// ErrQuotaNotFound: the quota's usage is not in the cache and could not be put there.
	// GetQuota implementations may return it (wrapped or not) for an unknown quota.
	ErrQuotaNotFound = errors.New("quota not found")
	// ErrLockedKey: another process holds the lock for loading a quota's usage.
	ErrLockedKey = errors.New("quota usage key is locked")
	// ErrMaxRetryExceeded: the usage was still missing after GetQuotaUsageConfig.MaxRetry
	// loads (ErrQuotaNotFound), or after waiting twice LockIn for another process's load
	// (ErrLockedKey); the error also wraps that cause.
	ErrMaxRetryExceeded = errors.New("max retry exceeded")
	// ErrInvalidRequest: the request, or a value a configured function returned for it,
	// cannot be used (nil request, usage not positive, empty key, negative limit, ...).
	ErrInvalidRequest = errors.New("invalid quota usage request")
	// ErrInvalidCachedUsage: the usage (or limit) key holds something andromeda did not
	// write: a value that is not a whole number from 0 to MaxAmount (2^53) written the
	// way INCRBY writes it ("-5", "05", "1.0" and 2^53+1 are not), or a key of another
	// type. Nothing was changed; the error names the key and what it holds.
	ErrInvalidCachedUsage = errors.New("cached quota usage is not a whole number from 0 to 2^53")
	// ErrHoldExpired: the hold was neither committed nor cancelled in time, and its
	// quota was released.
	ErrHoldExpired = errors.New("quota hold expired")
	// ErrHoldNotFound: no hold has that ID, or it closed longer ago than its retention.
	ErrHoldNotFound = errors.New("quota hold not found")
	// ErrHoldCommitted: the hold was committed, so it cannot be cancelled or reserved again.
	ErrHoldCommitted = errors.New("quota hold already committed")
	// ErrHoldCancelled: the hold was cancelled, so it cannot be committed or reserved again.
	ErrHoldCancelled = errors.New("quota hold already cancelled")
	// ErrUnknownOutcome: the change was sent, but no answer came back (the connection
	// broke, a read timed out, the context ended while waiting), or, with an adapter's
	// WaitForReplicas, it was applied on the primary but too few replicas confirmed it;
	// so it may or may not have been applied, or kept. A request with an IdempotencyKey
	// has already been sent again UnknownOutcomeAttempts times before Do reports this;
	// retry it with the same key to learn which. Without a key, a retry may count it
	// twice: treat the change as maybe applied (e.g. reconcile later).
	ErrUnknownOutcome = errors.New("outcome unknown: the change was sent but no reply came back, so it may or may not have been applied")
	// ErrRedisUnavailable: Redis did not run the change (a refused connection, a cluster
	// redirect or TRYAGAIN beyond the retries, CLUSTERDOWN, a failover in progress), so
	// nothing was changed and the request is safe to retry. The adapters have already
	// retried it for about a third of a second (never past the context); the error also
	// wraps the last error the client returned.
	ErrRedisUnavailable = errors.New("redis did not run the change; nothing was changed")
	// ErrUndoFailed: Next failed, and taking the change back failed too, so the change is
	// still counted (or, when the error also wraps ErrUnknownOutcome, may be). Next's
	// error and the undo's are in the message; sentinels in them that say nothing changed
	// (a refusal, ErrRedisUnavailable, ...) are not in the error's chain, since the change
	// did stay. Reconcile before retrying.
	ErrUndoFailed = errors.New("the change could not be undone after Next failed, so it is still counted")
	// ErrCrossSlot: the keys of one all-or-nothing operation are in different Redis
	// Cluster hash slots. Give them a common hash tag, such as "{campaign-42}:usage" and
	// "{campaign-42}:user:7", or chain the quotas with Next instead.
	ErrCrossSlot = errors.New("the quotas' keys are in different cluster hash slots: give them a common hash tag, e.g. {campaign-42}:usage and {campaign-42}:user:7, or chain the quotas with Next")
)

// QuotaError is the error Do returns. It wraps the cause, usually one of the sentinel
// errors, and says which quota and amounts were involved.
type QuotaError struct {
	Op        string // "add", "reduce", "reserve", "commit" or "cancel"
	QuotaID   string
	Key       string // the usage key, when known
	Requested int64  // the usage the request asked to add or reduce
	Limit     int64  // the quota limit, when known (add only)
	Usage     int64  // the usage found, for ErrQuotaLimitExceeded and ErrInvalidMinQuotaUsage
	Err       error
}

// Error describes the failed change, e.g.
// `andromeda: add 10 to quota "v1" (key "usage-v1"): quota limit exceeded (usage 95, limit 100)`.
func (e *QuotaError) Error() string {
	var b strings.Builder
	preposition := "of" // reserve, commit, cancel
	switch e.Op {
	case opAdd:
		preposition = "to"
	case opReduce:
		preposition = "from"
	}
	fmt.Fprintf(&b, "andromeda: %s %d %s quota %q", e.Op, e.Requested, preposition, e.QuotaID)
	if e.Key != "" {
		fmt.Fprintf(&b, " (key %q)", e.Key)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	switch {
	case errors.Is(e.Err, ErrQuotaLimitExceeded):
		fmt.Fprintf(&b, " (usage %d, limit %d)", e.Usage, e.Limit)
	case errors.Is(e.Err, ErrInvalidMinQuotaUsage):
		fmt.Fprintf(&b, " (usage %d)", e.Usage)
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *QuotaError) Unwrap() error { return e.Err }

// invalid wraps ErrInvalidRequest with a reason.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidRequest, fmt.Sprintf(format, args...))
}
