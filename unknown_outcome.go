package andromeda

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// A change whose outcome is unknown (ErrUnknownOutcome: sent, but no reply) is sent again
// only when an idempotency record makes that safe: the record replays the first outcome
// if the change was applied, and otherwise the change is applied now. Holds are named by
// their IdempotencyKey, so they always qualify. At most UnknownOutcomeAttempts sends,
// unknownOutcomeBackoff apart and doubling, never past the context; an undo, which runs
// without the caller's deadline, is bounded by the count alone.

// UnknownOutcomeAttempts is how many times a change with an IdempotencyKey is sent while
// its outcome stays unknown, before Do gives up and returns ErrUnknownOutcome.
const UnknownOutcomeAttempts = 3

const unknownOutcomeBackoff = 20 * time.Millisecond

// retryUnknown calls change until its outcome is known, while its idempotency record (kept
// retention; 0 for none) makes that safe; otherwise once. The first send's record lives
// retention from when Redis wrote it, so no send goes out once half of it has passed
// since the first: a resend that found the record expired would count again.
func retryUnknown[T any](ctx context.Context, retention time.Duration, change func() (T, error)) (T, error) {
	backoff := unknownOutcomeBackoff
	first := time.Now()
	for attempt := 1; ; attempt++ {
		res, err := change()
		noteSend(ctx, res, err)
		if attempt > 1 && err != nil && !errors.Is(err, ErrUnknownOutcome) {
			// An earlier attempt may have applied the change: that this one failed (not
			// run, a context ended) does not make the outcome known.
			return res, fmt.Errorf("%w: an earlier attempt may have applied it, and then: %w", ErrUnknownOutcome, stillCounted(err))
		}
		if retention <= 0 || err == nil || !errors.Is(err, ErrUnknownOutcome) || attempt == UnknownOutcomeAttempts ||
			time.Since(first)+backoff >= retention/2 {
			return res, err
		}
		if sleep(ctx, backoff) != nil {
			return res, err
		}
		backoff *= 2
	}
}

// noteSend tells the observed Do, if any, what one send of its change found.
func noteSend[T any](ctx context.Context, res T, err error) {
	r := recordOf(ctx)
	switch {
	case r == nil:
	case errors.Is(err, ErrUnknownOutcome):
		r.unknown.Add(1)
	case err == nil:
		if res, ok := any(res).(cacheResult); ok {
			r.noteResult(res)
		}
	}
}
