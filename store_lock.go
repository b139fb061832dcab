package andromeda

import (
	"context"
	"fmt"
	"time"

	"github.com/ramadani/andromeda/internal/scripts"
)

func (c *store) Lock(ctx context.Context, key string, ttl time.Duration) (*lock, error) {
	token, release, err := c.cache.Lock(ctx, key, ttl)
	if err != nil {
		return nil, unavailable(err)
	}
	return &lock{store: c, key: key, token: token, release: release}, nil
}

// lock is a held loader lock. Its write goes through fenced_load.lua, which checks the token
// in the same step as it sets the value, so a write delayed past the lock's expiry finds
// the token gone and changes nothing.
type lock struct {
	store   *store
	key     string
	token   string
	release func(context.Context) error
}

func (l *lock) SetUsageIfAbsent(ctx context.Context, args loadArgs) (bool, error) {
	keys, scriptArgs := scripts.FencedLoadArgs(l.key, l.token, args.Key, args.Value, scripts.Milliseconds(args.Expiration), args.Drop)
	// Sent as a change script: retried while Redis did not run it, and never resent
	// once it may have run (a resend would be harmless here, but one path is simpler).
	reply, err := l.store.run(ctx, fencedLoadScript, keys, scriptArgs...)
	if err != nil {
		return false, runError(args.Key, err)
	}
	switch reply {
	case int64(scripts.FencedSet):
		return true, nil
	case int64(scripts.FencedPresent):
		return false, nil
	case int64(scripts.FencedLost):
		return false, fmt.Errorf("%w: the load lock %q expired before the loaded value of %q was written; nothing was written",
			ErrLockedKey, l.key, args.Key)
	}
	return false, unreadable(fmt.Sprintf("set %q", args.Key), fmt.Errorf("unexpected script reply %v", reply))
}

func (l *lock) Release(ctx context.Context) error {
	if err := l.release(ctx); err != nil {
		return fmt.Errorf("release lock %q: %w", l.key, unavailable(err))
	}
	return nil
}
