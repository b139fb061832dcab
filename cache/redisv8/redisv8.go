// Package redisv8 is the andromeda Cache over github.com/go-redis/redis/v8 (the client
// the original andromeda used). Prefer cache/redisv9 for new code.
//
// Cluster support ends before Redis 7: go-redis v8 cannot read a Redis 7 cluster's slot
// table ("got 4 elements in cluster info address, expected 2 or 3"), so use cache/redisv9
// with Redis 7 clusters. Standalone servers, Sentinel and rings of any version work.
//
// The loader lock is a token lock (SET NX PX, released by a script only while it still
// holds the token). bsm/redislock, which cache/redisv9 uses, supports go-redis v8 only in
// its v0.7 line, and one build cannot hold v0.7 and v0.9 of the same module.
//
// Each add or reduce on a warm key is one round trip: EVALSHA, with EVAL only the first
// time a server has not seen the script.
//
// A change is never applied twice by a resend, whatever the client's MaxRetries: v8
// has no per-command NoRetry, so each change runs on a sticky connection borrowed from
// the client's pool (Client.Conn), which cannot reconnect once broken (see run.go). It
// costs no round trip, about 9 allocations (380 bytes) per change, and bypasses the
// client's hooks for change scripts. On a Ring each change also costs a WATCH and an
// UNWATCH (v8 offers no other way onto one shard's connection). What may have run fails
// with andromeda.ErrUnknownOutcome; MaxRetries: -1 is not needed.
//
// go-redis v8 stops a call at the earlier of its context's deadline and the client's
// ReadTimeout or WriteTimeout.
package redisv8

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/go-redis/redis/v8"
	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/internal/scripts"
)

var unlockScript = redis.NewScript(scripts.Unlock)

// New returns a Cache that keeps usage through client, configured by opts.
//
// Whatever the client's MaxRetries, a change script is never resent once it may have
// been written (see run.go): a change whose reply was lost fails with
// andromeda.ErrUnknownOutcome instead of counting twice.
func New(client redis.UniversalClient, opts ...Option) andromeda.Cache {
	a := &adapter{client: client}
	for _, opt := range opts {
		opt(&a.opts)
	}
	if _, ring := client.(*redis.Ring); ring && a.opts.replicas.On() {
		panic("redisv8.New: WaitForReplicas does not work with a Ring: its shards are standalone servers")
	}
	return a
}

type adapter struct {
	client redis.UniversalClient
	opts   options
}

// Get pipelines one GET per key: a cluster client sends one pipeline per node.
func (a *adapter) Get(ctx context.Context, keys []string) ([]string, []bool, error) {
	cmds := make([]*redis.StringCmd, len(keys))
	_, err := a.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, key := range keys {
			cmds[i] = p.Get(ctx, key)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, err
	}
	values, found := make([]string, len(keys)), make([]bool, len(keys))
	for i, cmd := range cmds {
		value, err := cmd.Result()
		switch {
		case errors.Is(err, redis.Nil):
		case err != nil:
			return nil, nil, err
		default:
			values[i], found[i] = value, true
		}
	}
	return values, found, nil
}

// Lock takes a token lock: SET NX PX with a random token, released by a script only
// while the key still holds that token; the loader's fenced write checks the same token.
func (a *adapter) Lock(ctx context.Context, key string, ttl time.Duration) (string, func(context.Context) error, error) {
	token := rand.Text()
	ok, err := a.client.SetNX(ctx, key, token, ttl).Result()
	if err != nil {
		return "", nil, fmt.Errorf("lock %q: %w", key, err)
	}
	if !ok {
		return "", nil, fmt.Errorf("%w: %q", andromeda.ErrLockedKey, key)
	}
	return token, func(ctx context.Context) error {
		return unlockScript.Run(ctx, a.client, []string{key}, token).Err()
	}, nil
}
