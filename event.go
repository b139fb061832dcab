package andromeda

import (
	"context"
	"time"
)

// Operation names, as Event.Op and QuotaError.Op spell them.
const (
	OpAdd         = "add"
	OpReduce      = "reduce"
	OpMultiAdd    = "multi add"
	OpMultiReduce = "multi reduce"
	OpReserve     = "reserve"
	OpCommit      = "commit"
	OpCancel      = "cancel"
)

// Event is the whole story of one Do, for an EventListener: what was asked, how it ended,
// how long it took, and what happened inside it.
type Event struct {
	// Op is the operation: OpAdd, OpReduce, OpMultiAdd, OpMultiReduce, OpReserve,
	// OpCommit or OpCancel.
	Op string
	// Request is the request Do was given (nil if it was given none); QuotaID and Amount
	// repeat its QuotaID and Usage.
	Request *QuotaUsageRequest
	QuotaID string
	// Key is the usage key changed (the first quota's for a multi-quota change); empty
	// when Do failed before it was known.
	Key string
	// Amount is the usage the request asked to add, reduce or hold.
	Amount int64
	// Usage is the usage after the change on success; on a refusal, the usage found.
	Usage int64
	// Limit is the limit the change was checked against, 0 when not known (a coalesced
	// add, a reduce, a hold commit or cancel).
	Limit int64
	// Err is the error Do returned, nil on success.
	Err error
	// Replayed is true when the outcome was read from an idempotency record that an
	// earlier Do wrote: this Do changed nothing and repeated that Do's answer. It is false
	// when not known: after a send of this Do whose outcome was unknown, the record may
	// be its own.
	Replayed bool
	// Duration is how long Do took, listener calls excluded.
	Duration time.Duration
	Counts
}

// Counts says what happened inside one Do, beyond the change itself. Next (another
// UpdateQuotaUsage) reports its own; an undo's are counted in the Do it undoes.
type Counts struct {
	// Loads is how many values (usage or limit) this Do read from GetQuotaUsage or
	// GetQuotaLimit for a missing key; a load shared with concurrent Dos of the process
	// counts in the one that ran it.
	Loads int
	// MissingKeys is how many times the change found a key missing (and so ran again
	// once it was loaded, here or by another process).
	MissingKeys int
	// LockWaits is how many times the Do waited because another process held the key's
	// loader lock.
	LockWaits int
	// UnknownOutcomes is how many sends of the change got no answer (ErrUnknownOutcome),
	// including those sent again safely under an idempotency record.
	UnknownOutcomes int
	// NotRunRetries is how many times the library sent the change again because Redis
	// certainly did not run it (a redirect, TRYAGAIN, a refused connection).
	NotRunRetries int
}

// Outcome classifies how the Do ended: "ok", "refused" (ErrQuotaLimitExceeded or
// ErrInvalidMinQuotaUsage: nothing changed), "unknown" (ErrUnknownOutcome: it may have
// been applied) or "error".
func (e Event) Outcome() string { return outcomeOf(e.Err) }

// Cause names the sentinel error Do's error wraps, such as "quota_limit_exceeded" or
// "unknown_outcome"; "" on success and "other" when it wraps none.
func (e Event) Cause() string { return causeOf(e.Err) }

// EventOf is the Event of a Do known only by its request and how it ended, for an
// EventListener called through OnSuccess or OnError by a caller that has no Event.
func EventOf(req *QuotaUsageRequest, usage int64, err error) Event {
	ev := Event{Request: req, Usage: usage, Err: err}
	if req != nil {
		ev.QuotaID, ev.Amount = req.QuotaID, req.Usage
	}
	return ev
}

// EventListener is an UpdateQuotaUsageListener (Option.Listener) that wants each Do's
// Event: Do then calls OnDone, once, instead of OnSuccess or OnError, on the caller's
// goroutine before it returns.
type EventListener interface {
	OnDone(ctx context.Context, ev Event)
}

// StartListener is an UpdateQuotaUsageListener that wants to know when a Do starts, to
// put something in its context (such as a span): Do calls OnStart first, once, and runs
// with the context it returns, which is also the one given to the call that says how
// the Do ended. OnStart reports no outcome, so the one call per Do that says how it ended
// is still the only one.
type StartListener interface {
	OnStart(ctx context.Context, op string, req *QuotaUsageRequest) context.Context
}

// countNotRunRetry tells the Do running with ctx, if it is being observed, that the store
// sent a change again because Redis certainly did not run it. It is cheap and safe from
// any goroutine.
func countNotRunRetry(ctx context.Context) {
	countIn(ctx, func(r *doRecord) { r.notRun.Add(1) })
}
