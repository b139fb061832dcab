package scriptcache

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/internal/scripts"
)

// A change script must reach Redis at most once per attempt the library decides on: a
// client that resends it after the connection broke may apply it twice. The adapters
// therefore run change scripts so that their client never resends one that may have been
// written (go-redis v9: a command whose NoRetry is true; go-redis v8: a connection that
// cannot reconnect), and report whether the request was written at all, so that this
// package can tell "not run, safe to send again" from "may have run".

// ErrNotSent marks an error from Client.Run after which the request was certainly not
// written to any connection (the dial failed, the pool timed out, the handshake of a new
// connection failed): Redis cannot have run it.
var ErrNotSent = errors.New("request not sent")

// NotSent wraps err with ErrNotSent.
func NotSent(err error) error { return fmt.Errorf("%w: %w", ErrNotSent, err) }

// Marker is a command argument that records whether the client serialised it for the
// wire: go-redis writes an encoding.BinaryMarshaler argument by calling MarshalBinary,
// and nothing else does. Before that call the command has not been sent; after it, it
// may have been. Make a new Marker for every attempt.
type Marker struct {
	value   string
	written atomic.Bool
}

// NewMarker returns a Marker that is written as value.
func NewMarker(value string) *Marker { return &Marker{value: value} }

// MarshalBinary returns the value and records that the command is being written.
func (m *Marker) MarshalBinary() ([]byte, error) {
	m.written.Store(true)
	return []byte(m.value), nil
}

// String returns the value, for logs and hooks that print commands.
func (m *Marker) String() string { return m.value }

// Written reports whether the command carrying m may have been sent.
func (m *Marker) Written() bool { return m.written.Load() }

// SHA1 returns the hex SHA1 of a script's source, the name EVALSHA runs it by.
func SHA1(source string) string {
	sum := sha1.Sum([]byte(source))
	return hex.EncodeToString(sum[:])
}

// Touch is a script that rewrites the value at KEYS[1] unchanged, keeping its expiry: a
// write that Redis replicates, so that a WAIT after it covers every earlier write to the
// key. A replayed change (its idempotency record answered, nothing written) is confirmed
// with it when the adapter waits for replicas. Redis 7.0 moves a connection's WAIT
// offset to the server's after every command, so there a replay's WAIT already covers
// the change it replays; a server that tracks only the connection's own writes would let
// a replay on a connection that wrote nothing lately pass while the change is not yet
// on any replica. Touch costs one more script call, on replays only.
const Touch Script = -1

// TouchSource is the source of Touch.
const TouchSource = `local v = redis.call('GET', KEYS[1])
if v then redis.call('SET', KEYS[1], v, 'KEEPTTL') end
return 1`

// ReplicaWaiter is implemented by an adapter that confirms each change with WAIT.
type ReplicaWaiter interface {
	WaitsForReplicas() bool
}

// Refresher is implemented by an adapter whose client can relearn the servers' topology
// (a cluster's slot map) after an error that says it changed.
type Refresher interface {
	Refresh(ctx context.Context)
}

// Retries of a change that Redis did not run (TRYAGAIN, MOVED or ASK beyond the client's
// redirects, CLUSTERDOWN, LOADING, READONLY or MASTERDOWN during a failover, a refused
// connection, a pool timeout): at most notRunAttempts sends, firstBackoff apart and
// doubling, and none but the second started after notRunBudget, never past the
// context. About a third of a second in all, or two failed dials when a dial alone takes
// longer (go-redis retries dials itself): enough for a redirect or a slot migration step
// to settle, short enough to fail closed quickly when Redis is down.
const (
	notRunAttempts = 6
	notRunBudget   = 300 * time.Millisecond
	firstBackoff   = 10 * time.Millisecond
)

// notRunReplies are the error replies with which Redis refuses to run a command at all,
// so that sending it again cannot count it twice.
var notRunReplies = []string{"TRYAGAIN", "MOVED", "ASK", "CLUSTERDOWN", "LOADING", "READONLY",
	"MASTERDOWN", "BUSY", "NOREPLICAS", "OOM"}

// fault is what a failed Run left behind.
type fault int

const (
	definite fault = iota // Redis answered with an error: nothing more to learn
	notRun                // the script cannot have run: safe to send again
	unknown               // it may have run
)

// classify says what err from Client.Run means for the change.
func classify(err error) fault {
	var reply interface {
		error
		RedisError()
	}
	switch {
	case errors.Is(err, andromeda.ErrUnknownOutcome):
		return unknown
	case errors.Is(err, ErrNotSent):
		return notRun
	case errors.As(err, &reply):
		first, _, _ := strings.Cut(reply.Error(), " ")
		if slices.Contains(notRunReplies, first) {
			return notRun
		}
		return definite
	}
	return unknown // a broken connection, a timeout, a context ended while waiting
}

// run runs a change script, sending it again only while Redis certainly did not run it,
// and names what a failure means: ErrUnknownOutcome when it may have been applied,
// ErrRedisUnavailable when Redis did not run it and the retries ran out.
func (c *cache) run(ctx context.Context, script Script, keys []string, args ...any) (any, error) {
	backoff, start := firstBackoff, time.Now()
	for attempt := 1; ; attempt++ {
		reply, err := c.client.Run(ctx, script, keys, args...)
		if err == nil {
			return reply, c.confirmReplay(ctx, script, keys[0], reply)
		}
		kind := classify(err)
		if kind != definite {
			c.refresh(ctx)
		}
		switch kind {
		case definite:
			return nil, err
		case unknown:
			if errors.Is(err, andromeda.ErrUnknownOutcome) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %w", andromeda.ErrUnknownOutcome, err)
		}
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return nil, err // the caller's context ended before anything was sent
		}
		// The second send always goes, after the refresh above: a client's own failed
		// dial (go-redis retries dials itself) can outlast the budget alone, and a
		// cluster client that dialled a dead master learns the new owner only now.
		if attempt == notRunAttempts || attempt > 1 && time.Since(start)+backoff > notRunBudget {
			return nil, fmt.Errorf("%w (%d attempts): %w", andromeda.ErrRedisUnavailable, attempt, err)
		}
		if serr := sleep(ctx, backoff); serr != nil {
			return nil, fmt.Errorf("%w (%d attempts, then %w): %w", andromeda.ErrRedisUnavailable, attempt, serr, err)
		}
		backoff *= 2
	}
}

// confirmReplay makes sure that a replayed change is on the replicas, when the adapter
// waits for them (see Touch).
func (c *cache) confirmReplay(ctx context.Context, script Script, key string, reply any) error {
	if script != Add && script != Reduce && script != Hold {
		return nil
	}
	if w, ok := c.client.(ReplicaWaiter); !ok || !w.WaitsForReplicas() {
		return nil
	}
	if r, err := scripts.Parse(reply); err != nil || !r.Replayed {
		return nil
	}
	_, err := c.run(ctx, Touch, []string{key})
	if err == nil || errors.Is(err, andromeda.ErrUnknownOutcome) {
		return err
	}
	return fmt.Errorf("%w: the change was applied earlier, but confirming it on the replicas failed: %w",
		andromeda.ErrUnknownOutcome, err)
}

func (c *cache) refresh(ctx context.Context) {
	if r, ok := c.client.(Refresher); ok {
		r.Refresh(ctx)
	}
}

// sleep waits for d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// unavailable names the failure of a plain command (a read, the loader's write, a lock):
// errors that are not Redis's answer wrap ErrRedisUnavailable.
func unavailable(err error) error {
	var reply interface {
		error
		RedisError()
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, andromeda.ErrLockedKey) || errors.As(err, &reply) && classify(err) == definite {
		return err
	}
	return fmt.Errorf("%w: %w", andromeda.ErrRedisUnavailable, err)
}
