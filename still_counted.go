package andromeda

import "errors"

// ErrRedisUnavailable promises that nothing was changed. An error about a step that
// failed after a change that stays counted, or may (an undo that failed, a Next after an
// irreversible change, a retry after an attempt whose outcome is unknown), must not carry
// that promise, or a caller that retries on it counts the change twice. stillCounted
// returns err unchanged when it does not wrap ErrRedisUnavailable; otherwise an error
// with err's text that wraps only ErrUnknownOutcome, when err did.
func stillCounted(err error) error {
	if err == nil || !errors.Is(err, ErrRedisUnavailable) {
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
