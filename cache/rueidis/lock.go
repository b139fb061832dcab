package rueidis

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/internal/scripts"
	rd "github.com/redis/rueidis"
)

// Lock stores a random token at key (SET NX PX), which the loader's fenced write checks,
// and releases it through the library's unlock script, which deletes key only while it
// still holds that token. (rueidislock does not fit: it keeps its lock under keys of its
// own, a majority of several, so no script can check a token at key.)
func (a *adapter) Lock(ctx context.Context, key string, ttl time.Duration) (string, func(context.Context) error, error) {
	token := rand.Text()
	set := a.client.B().Set().Key(key).Value(token).Nx().PxMilliseconds(milliseconds(ttl)).Build()
	err := resultError(a.client.Do(ctx, set))
	if rd.IsRedisNil(err) {
		return "", nil, fmt.Errorf("%w: %q", andromeda.ErrLockedKey, key)
	}
	if err != nil {
		return "", nil, fmt.Errorf("lock %q: %w", key, err)
	}
	release := func(ctx context.Context) error {
		// Expired or taken by another: nothing to release, and the script says 0. It
		// goes by EVALSHA, with EVAL on NOSCRIPT; sending it twice is harmless.
		return resultError(a.unlock.Exec(ctx, a.client, []string{key}, []string{token}))
	}
	return token, release, nil
}

// milliseconds is a lock's time to live in whole milliseconds, rounded up and at least
// one: PX 0 is an error.
func milliseconds(ttl time.Duration) int64 {
	return max(1, scripts.Milliseconds(ttl)) // rounds up without overflowing at the longest ttl
}
