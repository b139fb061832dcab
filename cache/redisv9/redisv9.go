// Package redisv9 is the andromeda Cache over github.com/redis/go-redis/v9, with
// github.com/bsm/redislock for the loader lock. It works with a standalone client, a
// cluster (Redis 7 included), a ring or a failover (Sentinel) client.
//
// Each add or reduce on a warm key is one round trip: EVALSHA, with EVAL only the first
// time a server has not seen the script.
//
// go-redis stops a call at its context's deadline only when the client is created with
// Options.ContextTimeoutEnabled (ClusterOptions, FailoverOptions and so on alike);
// otherwise ReadTimeout and WriteTimeout bound each call. Set it when your deadlines are
// shorter than those timeouts.
package redisv9

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bsm/redislock"
	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/internal/scriptcache"
	"github.com/ramadani/andromeda/internal/scripts"
	"github.com/redis/go-redis/v9"
)

var byName = map[scriptcache.Script]*redis.Script{
	scriptcache.Add:      redis.NewScript(scripts.Add),
	scriptcache.Reduce:   redis.NewScript(scripts.Reduce),
	scriptcache.AddBatch: redis.NewScript(scripts.AddBatch),
}

// New returns a Cache that keeps usage through client.
func New(client redis.UniversalClient) andromeda.Cache {
	return scriptcache.New(&adapter{client: client, locker: redislock.New(client)})
}

type adapter struct {
	client redis.UniversalClient
	locker *redislock.Client
}

func (a *adapter) Run(ctx context.Context, script scriptcache.Script, key string, args ...interface{}) (interface{}, error) {
	return byName[script].Run(ctx, a.client, []string{key}, args...).Result()
}

func (a *adapter) SetNX(ctx context.Context, key string, value int64, expiration time.Duration) (bool, error) {
	return a.client.SetNX(ctx, key, value, expiration).Result()
}

func (a *adapter) Get(ctx context.Context, key string) (string, bool, error) {
	value, err := a.client.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	return value, err == nil, err
}

func (a *adapter) Lock(ctx context.Context, key string, ttl time.Duration) (andromeda.ReleaseFunc, error) {
	lock, err := a.locker.Obtain(ctx, key, ttl, nil)
	if errors.Is(err, redislock.ErrNotObtained) {
		return nil, fmt.Errorf("%w: %q", andromeda.ErrLockedKey, key)
	}
	if err != nil {
		return nil, fmt.Errorf("lock %q: %w", key, err)
	}
	return lock.Release, nil
}
