package valkey

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/ramadani/andromeda"
	vk "github.com/valkey-io/valkey-go"
)

// releaseSource deletes the lock only while it still holds the releasing holder's token.
const releaseSource = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`

// Lock stores a random token at key (SET NX PX), which the loader's fenced write checks,
// and releases it only while key still holds that token. (valkeylock does not fit: it
// keeps its lock under keys of its own, a majority of several, so no script can check a
// token at key.)
func (a *adapter) Lock(ctx context.Context, key string, ttl time.Duration) (string, func(context.Context) error, error) {
	token := newToken()
	err := a.client.Do(ctx, a.client.B().Set().Key(key).Value(token).Nx().PxMilliseconds(ms(max(ttl, time.Millisecond))).Build()).Error()
	if vk.IsValkeyNil(err) {
		return "", nil, fmt.Errorf("%w: %q", andromeda.ErrLockedKey, key)
	}
	if err != nil {
		return "", nil, fmt.Errorf("lock %q: %w", key, replyError(err))
	}
	release := func(ctx context.Context) error {
		// Expired or taken by another: nothing to release, and the script says 0.
		return replyError(a.release.Exec(ctx, a.client, []string{key}, []string{token}).Error())
	}
	return token, release, nil
}

// newToken returns 16 random bytes, base64url-encoded.
func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}
