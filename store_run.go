package andromeda

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ramadani/andromeda/internal/scripts"
)

// A change script must reach Redis at most once per attempt the library decides on: the
// transport never resends one that may have been written (see Cache.RunScript), and says
// whether it was written at all, so that the store can tell "not run, safe to send
// again" from "may have run".

// Retries of a change that Redis did not run (TRYAGAIN, MOVED or ASK beyond the client's
// redirects, CLUSTERDOWN, LOADING, READONLY or MASTERDOWN during a failover, a refused
// connection, a pool timeout): at most notRunAttempts sends, firstBackoff apart and
// doubling, none started after notRunBudget, never past the context. About a third of a
// second in all: enough for a redirect or a slot migration step to settle, short enough
// to fail closed quickly when Redis is down (a failed dial alone can take longer, as
// go-redis retries dials itself). A cluster client gets clusterBudget: it reloads its slot
// map in the background after the first failure, and a dead master's slots have moved by
// the time the map says so.
const (
	notRunAttempts = 6
	notRunBudget   = 300 * time.Millisecond
	clusterBudget  = time.Second
	firstBackoff   = 10 * time.Millisecond
)

// notRunReplies are the error replies with which Redis refuses to run a command at all,
// so that sending it again cannot count it twice.
var notRunReplies = []string{"TRYAGAIN", "MOVED", "ASK", "CLUSTERDOWN", "LOADING", "READONLY",
	"MASTERDOWN", "BUSY", "NOREPLICAS", "OOM"}

// fault is what a failed Run left behind.
type fault int

const (
	definite fault = iota // Redis answered with an error: sending again cannot help
	notRun                // the script cannot have run: safe to send again
	unknown               // it may have run
)

// classify says what err from Cache.RunScript means for the change.
func classify(err error) fault {
	var reply interface {
		error
		RedisError()
	}
	switch {
	case errors.Is(err, ErrUnknownOutcome):
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
func (c *store) run(ctx context.Context, script *Script, keys []string, args ...any) (any, error) {
	backoff, budget, start := firstBackoff, notRunBudget, time.Now()
	for attempt := 1; ; attempt++ {
		reply, err := c.cache.RunScript(ctx, script, keys, args...)
		if err == nil {
			return reply, c.confirmReplay(ctx, script, keys[0], reply)
		}
		kind := classify(err)
		if kind != definite && c.refresh(ctx) {
			budget = clusterBudget
		}
		switch kind {
		case definite:
			if crossSlot(err) {
				return nil, err // refused before it ran (runError says ErrCrossSlot)
			}
			// Redis does not roll back a script that failed part way (a Lua error, a
			// command the server refused mid-script): what it wrote before stays.
			return nil, fmt.Errorf("%w: Redis answered with an error, after the script may have written part of its change: %w", ErrUnknownOutcome, err)
		case unknown:
			if errors.Is(err, ErrUnknownOutcome) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %w", ErrUnknownOutcome, err)
		}
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return nil, err // the caller's context ended before anything was sent
		}
		if attempt == notRunAttempts || time.Since(start)+backoff > budget {
			return nil, fmt.Errorf("%w (%d attempts): %w", ErrRedisUnavailable, attempt, err)
		}
		countNotRunRetry(ctx)
		if serr := sleep(ctx, backoff); serr != nil {
			return nil, fmt.Errorf("%w (%d attempts, then %w): %w", ErrRedisUnavailable, attempt, serr, err)
		}
		backoff *= 2
	}
}

// confirmReplay makes sure that a replayed change is on the replicas, when the adapter
// waits for them (see touchScript).
func (c *store) confirmReplay(ctx context.Context, script *Script, key string, reply any) error {
	if !c.waits || script != addScript && script != reduceScript && script != holdScript {
		return nil
	}
	if r, err := scripts.Parse(reply); err != nil || !r.Replayed {
		return nil
	}
	_, err := c.run(ctx, touchScript, []string{key})
	if err == nil || errors.Is(err, ErrUnknownOutcome) {
		return err
	}
	return fmt.Errorf("%w: the change was applied earlier, but confirming it on the replicas failed: %w",
		ErrUnknownOutcome, err)
}

// refresh asks the transport to relearn the topology (SlotRefresher), and reports
// whether it has one.
func (c *store) refresh(ctx context.Context) bool {
	return c.refresher != nil && c.refresher.RefreshSlots(ctx)
}

// unavailable names the failure of a plain command (a read, the loader's write, a lock):
// errors that are not Redis's answer wrap ErrRedisUnavailable.
func unavailable(err error) error {
	var reply interface {
		error
		RedisError()
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, ErrLockedKey) || errors.As(err, &reply) && classify(err) == definite {
		return err
	}
	return fmt.Errorf("%w: %w", ErrRedisUnavailable, err)
}
