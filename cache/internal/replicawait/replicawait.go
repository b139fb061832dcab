// Package replicawait is the adapters' WaitForReplicas setting (cache/redisv9,
// cache/redisv8, cache/rueidis, cache/valkey): WAIT N Timeout after each change script,
// and what its reply means for the change.
package replicawait

import (
	"fmt"
	"time"

	"github.com/ramadani/andromeda"
)

// Wait is WAIT's arguments: N replicas within Timeout. The zero value sends no WAIT.
type Wait struct {
	N       int
	Timeout time.Duration
}

// New checks WaitForReplicas's arguments, and panics naming option (such as
// "redisv9.WaitForReplicas") when they cannot work.
func New(option string, n int, timeout time.Duration) Wait {
	if n < 1 {
		panic(fmt.Sprintf("%s: n is %d, want at least 1", option, n))
	}
	if timeout < time.Millisecond {
		panic(fmt.Sprintf("%s: timeout is %v, want at least 1ms (0 would block forever)", option, timeout))
	}
	return Wait{N: n, Timeout: timeout}
}

// On reports whether changes are confirmed with WAIT.
func (w Wait) On() bool { return w.N > 0 }

// Milliseconds is WAIT's timeout argument, rounded up (without adding first, which
// overflows for a timeout near time.Duration(math.MaxInt64)).
func (w Wait) Milliseconds() int64 {
	ms := int64(w.Timeout / time.Millisecond)
	if w.Timeout%time.Millisecond > 0 {
		ms++
	}
	return ms
}

// Check turns WAIT's reply (acked replicas, or its error) into ErrUnknownOutcome when it
// fell short: the change was applied on the primary, but a failover could lose it.
func (w Wait) Check(acked int64, err error) error {
	if err != nil {
		return fmt.Errorf("%w: applied on the primary, but WAIT for %d replicas failed: %w",
			andromeda.ErrUnknownOutcome, w.N, err)
	}
	if acked < int64(w.N) {
		return fmt.Errorf("%w: applied on the primary, but only %d of %d replicas acknowledged it within %v",
			andromeda.ErrUnknownOutcome, acked, w.N, w.Timeout)
	}
	return nil
}
