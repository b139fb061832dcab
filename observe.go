package andromeda

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// doRecord gathers an observed Do's Event while it runs. It travels in the Do's context,
// so that the loader, the retries and the cache can count what they do without a
// parameter on every call; Next runs with a record of its own. Counters are atomic: a
// shared load runs on its own goroutine, and a cache may count from anywhere.
type doRecord struct {
	start                                      time.Time
	loads, missing, lockWaits, unknown, notRun atomic.Int32

	// Set on the Do's goroutine only: the last change result seen, kept once the change
	// is done (changed), so that an undo's results do not replace it.
	key      string
	limit    int64
	replayed bool
	changed  bool
}

type doRecordKey struct{}

// recordOf returns the record of the observed Do running with ctx, or nil.
func recordOf(ctx context.Context) *doRecord {
	r, _ := ctx.Value(doRecordKey{}).(*doRecord)
	return r
}

// start begins a Do: a listener that wants events gets a record in ctx, and a
// StartListener its OnStart. Without such a listener it costs a context lookup.
func (s *usageStep) start(ctx context.Context, req *QuotaUsageRequest) (context.Context, *doRecord) {
	_, wantsEvent := s.listener.(EventListener)
	starter, wantsStart := s.listener.(StartListener)
	if !wantsEvent && !wantsStart {
		if recordOf(ctx) != nil {
			// The Next of an observed Do: what it does is not the outer Do's.
			ctx = context.WithValue(ctx, doRecordKey{}, (*doRecord)(nil))
		}
		return ctx, nil
	}
	if wantsStart {
		if started := starter.OnStart(ctx, s.eventOp(), req); started != nil {
			ctx = started
		}
	}
	r := &doRecord{start: time.Now()}
	return context.WithValue(ctx, doRecordKey{}, r), r
}

// done tells the listener how the Do ended: one call, OnDone with the Event when the
// listener wants it, otherwise OnSuccess or OnError.
func (s *usageStep) done(ctx context.Context, r *doRecord, req *QuotaUsageRequest, usage int64, err error) {
	if el, ok := s.listener.(EventListener); ok && r != nil {
		el.OnDone(ctx, r.event(s.eventOp(), req, usage, err))
		return
	}
	notify(ctx, s.listener, req, usage, err)
}

// eventOp names the step's operation for events.
func (s *usageStep) eventOp() string {
	if s.multi {
		return "multi " + s.op
	}
	return s.op
}

// noteResult keeps what a change's result says that Do does not return: the limit it
// was checked against and whether it was replayed.
func (r *doRecord) noteResult(res cacheResult) {
	if !r.changed {
		r.limit, r.replayed = res.Limit, res.Replayed
	}
}

// noteChanged marks the Do's own change done, at key: what follows (Next, an undo) no
// longer describes it.
func noteChanged(ctx context.Context, key string) {
	if r := recordOf(ctx); r != nil {
		r.key, r.changed = key, true
	}
}

// countLoad, countMissing and countLockWait count, in the Do running with ctx if it is
// observed, a load it ran, a key its change found missing, and a wait for another
// process's load.
func countLoad(ctx context.Context)     { countIn(ctx, func(r *doRecord) { r.loads.Add(1) }) }
func countMissing(ctx context.Context)  { countIn(ctx, func(r *doRecord) { r.missing.Add(1) }) }
func countLockWait(ctx context.Context) { countIn(ctx, func(r *doRecord) { r.lockWaits.Add(1) }) }

func countIn(ctx context.Context, add func(*doRecord)) {
	if r := recordOf(ctx); r != nil {
		add(r)
	}
}

// event builds the Event of a Do that ended with usage and err.
func (r *doRecord) event(op string, req *QuotaUsageRequest, usage int64, err error) Event {
	ev := EventOf(req, usage, err)
	ev.Op, ev.Duration = op, time.Since(r.start)
	ev.Key, ev.Limit, ev.Replayed = r.key, r.limit, r.replayed && err == nil && r.unknown.Load() == 0
	var qerr *QuotaError
	if err != nil && !r.changed && errors.As(err, &qerr) {
		// The change itself failed: its error describes it. (After a change, an error
		// is Next's, or an undo's, and describes another key.)
		ev.Key, ev.Limit, ev.Usage = qerr.Key, qerr.Limit, qerr.Usage
	}
	ev.Counts = Counts{Loads: int(r.loads.Load()), MissingKeys: int(r.missing.Load()),
		LockWaits: int(r.lockWaits.Load()), UnknownOutcomes: int(r.unknown.Load()), NotRunRetries: int(r.notRun.Load())}
	if ev.UnknownOutcomes == 0 && errors.Is(err, ErrUnknownOutcome) {
		ev.UnknownOutcomes = 1 // a send not counted on its way (a coalesced add's)
	}
	return ev
}

// outcomeOf classifies a Do's error for Event.Outcome.
func outcomeOf(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrUndoFailed):
		return "error"
	case errors.Is(err, ErrUnknownOutcome):
		return "unknown"
	case errors.Is(err, ErrQuotaLimitExceeded), errors.Is(err, ErrInvalidMinQuotaUsage):
		return "refused"
	}
	return "error"
}

// causes names the sentinels for Event.Cause, most telling first: an undo that failed
// wraps Next's cause too, and an unknown outcome may wrap what the last attempt met.
var causes = []struct {
	err  error
	name string
}{
	{ErrUndoFailed, "undo_failed"},
	{ErrUnknownOutcome, "unknown_outcome"},
	{ErrQuotaLimitExceeded, "quota_limit_exceeded"},
	{ErrInvalidMinQuotaUsage, "below_zero"},
	{ErrMaxRetryExceeded, "max_retry_exceeded"},
	{ErrQuotaNotFound, "quota_not_found"},
	{ErrLockedKey, "locked_key"},
	{ErrInvalidRequest, "invalid_request"},
	{ErrInvalidCachedUsage, "invalid_cached_usage"},
	{ErrHoldExpired, "hold_expired"},
	{ErrHoldNotFound, "hold_not_found"},
	{ErrHoldCommitted, "hold_committed"},
	{ErrHoldCancelled, "hold_cancelled"},
	{ErrRedisUnavailable, "redis_unavailable"},
	{ErrCrossSlot, "cross_slot"},
	{context.DeadlineExceeded, "deadline_exceeded"},
	{context.Canceled, "canceled"},
}

// causeOf names the sentinel err wraps, for Event.Cause.
func causeOf(err error) string {
	if err == nil {
		return ""
	}
	for _, c := range causes {
		if errors.Is(err, c.err) {
			return c.name
		}
	}
	return "other"
}
