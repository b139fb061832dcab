package andromeda

import (
	"errors"
	"fmt"
)

// ErrRedisUnavailable promises that nothing was changed. An error about a step that
// failed after a change that stays counted, or may (an undo that failed, a Next after an
// irreversible change, a retry after an attempt whose outcome is unknown), must not carry
// that promise, or a caller that retries on it counts the change twice. stillCounted
// returns err unchanged when it does not wrap ErrRedisUnavailable; otherwise an error
// with err's text that wraps only ErrUnknownOutcome, when err did.
func stillCounted(err error) error {
	return detach(err, ErrRedisUnavailable)
}

// nothingChanged are the sentinels that tell a caller its Do changed nothing.
var nothingChanged = []error{ErrRedisUnavailable, ErrQuotaLimitExceeded, ErrInvalidMinQuotaUsage,
	ErrQuotaNotFound, ErrMaxRetryExceeded, ErrLockedKey, ErrInvalidRequest, ErrCrossSlot,
	ErrHoldExpired, ErrHoldNotFound, ErrHoldCommitted, ErrHoldCancelled}

// undoFailed is Do's error when Next failed with nextErr and the undo with undoErr: it
// wraps ErrUndoFailed, ErrUnknownOutcome when the undo's outcome is unknown, and the two
// errors, less any sentinel that would say nothing changed.
func undoFailed(nextErr, undoErr error, op string, amount int64, key string) error {
	nextErr, undoErr = detach(nextErr, nothingChanged...), detach(undoErr, nothingChanged...)
	if errors.Is(undoErr, ErrUnknownOutcome) {
		return fmt.Errorf("%w: %w; undoing the %s of %d on key %q had an unknown outcome, so it may still be counted: %w",
			ErrUndoFailed, nextErr, op, amount, key, undoErr)
	}
	return fmt.Errorf("%w: %w; undoing the %s of %d on key %q also failed, so it is still counted: %w",
		ErrUndoFailed, nextErr, op, amount, key, undoErr)
}

// detach returns err unchanged when it wraps none of sentinels; otherwise an error with
// err's text that wraps only ErrUnknownOutcome, when err did.
func detach(err error, sentinels ...error) error {
	if err == nil || !wrapsAny(err, sentinels) {
		return err
	}
	opaque := &textError{text: err.Error()}
	if errors.Is(err, ErrUnknownOutcome) {
		opaque.wrapped = ErrUnknownOutcome
	}
	return opaque
}

// textError is an error's text, detached from the chain that said "nothing changed".
type textError struct {
	text    string
	wrapped error
}

func (e *textError) Error() string { return e.text }

func (e *textError) Unwrap() error { return e.wrapped }

func wrapsAny(err error, sentinels []error) bool {
	for _, sentinel := range sentinels {
		if errors.Is(err, sentinel) {
			return true
		}
	}
	return false
}
