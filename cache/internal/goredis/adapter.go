package goredis

import (
	"errors"
	"fmt"
	"time"

	"github.com/ramadani/andromeda"
)

// ReplicaWait is the adapters' WaitForReplicas setting: WAIT N Timeout after each change.
// The zero value sends no WAIT.
type ReplicaWait struct {
	N       int
	Timeout time.Duration
}

// NewReplicaWait checks WaitForReplicas's arguments, and panics naming option (such as
// "redisv9.WaitForReplicas") when they cannot work.
func NewReplicaWait(option string, n int, timeout time.Duration) ReplicaWait {
	if n < 1 {
		panic(fmt.Sprintf("%s: n is %d, want at least 1", option, n))
	}
	if timeout < time.Millisecond {
		panic(fmt.Sprintf("%s: timeout is %v, want at least 1ms (0 would block forever)", option, timeout))
	}
	return ReplicaWait{N: n, Timeout: timeout}
}

// On reports whether changes are confirmed with WAIT.
func (w ReplicaWait) On() bool { return w.N > 0 }

// Milliseconds is WAIT's timeout argument, rounded up.
func (w ReplicaWait) Milliseconds() int64 {
	return int64((w.Timeout + time.Millisecond - 1) / time.Millisecond)
}

// Check turns WAIT's reply (acked replicas, or its error) into ErrUnknownOutcome when it
// fell short: the change was applied on the primary, but a failover could lose it.
func (w ReplicaWait) Check(acked int64, err error) error {
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

// Outcome turns what a client returned for a script command into Run's answer: the
// client's nil reply (nilReply, such as redis.Nil) is a reply, and an error that is not a
// reply from Redis is marked ErrNotSent when marker shows the command was never written.
func Outcome(reply any, err, nilReply error, marker *Marker) (any, error) {
	if err == nil || errors.Is(err, nilReply) {
		return reply, nil
	}
	var redisErr interface {
		error
		RedisError()
	}
	if !marker.Written() && !errors.As(err, &redisErr) {
		return nil, NotSent(err)
	}
	return nil, err
}
