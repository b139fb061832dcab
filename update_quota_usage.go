package andromeda

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"time"
)

// usageStep is the Do of every change: it checks the request, applies the change, runs
// Next and undoes the change when Next fails, and tells the listener how the Do ended.
type usageStep struct {
	op           string
	apply        change
	next         UpdateQuotaUsage
	irreversible bool
	listener     UpdateQuotaUsageListener
	multi        bool // changes several quotas at once (events say "multi add")
	zeroUsageOK  bool // commit and cancel of a hold take their amount from the hold
}

// change applies one Do's request to the quota qreq names, the way one kind of change
// does. It returns the usage after it, the key it changed, and the undo that takes it
// back: nil when there is nothing to undo, or when undoable is false (no Next, or an
// irreversible one), so that a plain Do allocates none. Its error may be a *QuotaError
// with Err, Key, Limit and Usage set; the step fills in the rest. attempt names this Do
// in idempotency records (see Idempotency.Attempt); it is empty when the request has no
// IdempotencyKey.
type change func(ctx context.Context, qreq *QuotaRequest, req *QuotaUsageRequest, attempt string, undoable bool) (usage int64, key string, undo undoFunc, err error)

// undoFunc takes a successful change back.
type undoFunc func(ctx context.Context) error

// Do checks the request and applies the change; then runs Next, undoing the change if
// Next fails or panics (the panic goes on afterwards). It tells the listener how it ended.
func (s *usageStep) Do(ctx context.Context, req *QuotaUsageRequest) (int64, error) {
	ctx, record := s.start(ctx, req)
	var panicked *heldPanic
	usage, err := s.doRecovering(ctx, req, &panicked)
	s.done(ctx, record, req, usage, err)
	if panicked != nil {
		panic(panicked.value) // after the undo and the listener call, as for a failing Next
	}
	return usage, err
}

// doRecovering runs do; a panic of one of the user's functions that do calls before or
// around the change (a key, limit or usage function, a shared load) fails the Do, and goes
// on after the listener is told, as Next's does: the listener hears of every Do.
func (s *usageStep) doRecovering(ctx context.Context, req *QuotaUsageRequest, panicked **heldPanic) (usage int64, err error) {
	defer func() {
		if perr := holdPanic(panicked, recover(), "a function of the change"); perr != nil {
			usage, err = 0, s.fail(req, "", perr)
		}
	}()
	return s.do(ctx, req, panicked)
}

// heldPanic is a panic of a user's function (Next, one the change or its undo calls),
// held while the change is undone and the listener told, then raised again.
type heldPanic struct{ value any }

// holdPanic holds p, recovered from what, unless a panic is held already (the first goes
// on), and returns it as what's error; nil when p is nil (nothing panicked).
func holdPanic(held **heldPanic, p any, what string) error {
	if p == nil {
		return nil
	}
	if *held == nil {
		*held = &heldPanic{value: p}
	}
	return fmt.Errorf("%s panicked: %v", what, p)
}

// runNext runs Next; a panic in it fails Next, and goes on after the listener is told.
func runNext(ctx context.Context, next UpdateQuotaUsage, req *QuotaUsageRequest, panicked **heldPanic) (err error) {
	defer func() {
		if perr := holdPanic(panicked, recover(), "Next"); perr != nil {
			err = perr
		}
	}()
	_, err = next.Do(ctx, req)
	return err
}

// runUndo runs undo; a panic in it (a user's function it calls, such as a reduce's
// GetQuotaLimit) fails the undo, and goes on after the listener is told, as Next's does,
// unless Next's own panic already will.
func runUndo(ctx context.Context, undo undoFunc, panicked **heldPanic) (err error) {
	defer func() {
		if perr := holdPanic(panicked, recover(), "the undo"); perr != nil {
			err = perr
		}
	}()
	return undo(ctx)
}

func (s *usageStep) do(ctx context.Context, req *QuotaUsageRequest, panicked **heldPanic) (int64, error) {
	if err := checkRequest(ctx, req, s.zeroUsageOK); err != nil {
		return 0, s.fail(req, "", err)
	}
	qreq := &QuotaRequest{QuotaID: req.QuotaID, Data: req.Data}
	undoable := s.next != nil && !s.irreversible
	usage, key, undo, err := s.apply(ctx, qreq, req, newAttempt(req), undoable)
	if err != nil {
		return 0, s.fail(req, key, err)
	}
	noteChanged(ctx, key)
	if s.next == nil {
		return usage, nil
	}
	if err := runNext(ctx, s.next, req, panicked); err != nil {
		if undo == nil { // irreversible: the change stays, and Next's "nothing changed" is not Do's
			return 0, stillCounted(err)
		}
		// Undo even when ctx has ended: the caller must not be left holding a change
		// it was told failed. Its calls to Redis have UndoTimeout of their own (undoSends):
		// against a frozen Redis the Do still ends, with ErrUndoFailed.
		if undoErr := runUndo(context.WithoutCancel(ctx), undo, panicked); undoErr != nil {
			// The change stays counted, or may: neither Next's error nor the undo's may
			// tell the caller that nothing changed.
			return 0, undoFailed(err, undoErr, s.op, req.Usage, key)
		}
		return 0, err
	}
	return usage, nil
}

// UndoTimeout bounds what the undo of a change whose Next failed sends to Redis. The undo
// runs without the caller's deadline or cancellation (a request that ended must still give
// back what it took), so its Redis calls have a time of their own, counted from when they
// start (a slow GetQuotaLimit that the undo of a reduce asks first does not eat into it):
// an undo that Redis has not answered by then fails the Do with ErrUndoFailed (and
// ErrUnknownOutcome: it may yet be applied).
const UndoTimeout = time.Second

// undoSends bounds the Redis calls of an undo by UndoTimeout.
func undoSends(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, UndoTimeout)
}

// fail makes err the *QuotaError Do returns, keeping the details a change filled in.
func (s *usageStep) fail(req *QuotaUsageRequest, key string, err error) *QuotaError {
	qerr, ok := err.(*QuotaError)
	if !ok {
		qerr = &QuotaError{Err: err}
	}
	qerr.Op = s.op
	if qerr.Key == "" {
		qerr.Key = key
	}
	if req != nil {
		qerr.QuotaID, qerr.Requested = req.QuotaID, req.Usage
	}
	return qerr
}

func checkRequest(ctx context.Context, req *QuotaUsageRequest, zeroOK bool) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case req == nil:
		return invalid("nil request")
	case req.Usage < 0 || req.Usage == 0 && !zeroOK:
		return invalid("usage must be positive, got %d", req.Usage)
	case req.Usage > MaxAmount:
		return invalid("usage %d is above the maximum %d", req.Usage, int64(MaxAmount))
	case len(req.IdempotencyKey) > maxIdempotencyKey:
		return invalid("idempotency key of %d bytes, want at most %d", len(req.IdempotencyKey), maxIdempotencyKey)
	}
	return nil
}

func usageKey(ctx context.Context, getKey GetQuotaKey, req *QuotaRequest) (string, error) {
	key, err := getKey.Do(ctx, req)
	if err != nil {
		return "", fmt.Errorf("get quota usage key: %w", err)
	}
	if key == "" {
		return "", invalid("GetQuotaUsageKey returned an empty key")
	}
	return key, nil
}

// idempotency returns the record for op's change of the usage at key, if req has a key.
func idempotency(key, op string, req *QuotaUsageRequest, retention time.Duration, attempt string) idempotencyArgs {
	if req.IdempotencyKey == "" {
		return idempotencyArgs{}
	}
	if retention <= 0 {
		retention = DefaultIdempotencyRetention
	}
	return idempotencyArgs{RecordKey: recordKey(key, op, req.IdempotencyKey), Retention: retention, Attempt: attempt}
}

// newAttempt names one Do of a keyed request: 12 random characters, the same for the
// Do's retries and its undo, so that a late copy of one of its attempts is known for one.
func newAttempt(req *QuotaUsageRequest) string {
	if req == nil || req.IdempotencyKey == "" {
		return ""
	}
	var b [9]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// forgetting returns the record of a change with Forget set, for its undo.
func forgetting(idem idempotencyArgs) idempotencyArgs {
	idem.Forget = idem.RecordKey != ""
	return idem
}

// mustHave panics, naming the missing config field: a programmer error, caught at start-up.
func mustHave(ok bool, config, field string) {
	if !ok {
		panic(fmt.Sprintf("andromeda: %s.%s is required", config, field))
	}
}
