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
	"strconv"
	"time"

	"github.com/bsm/redislock"
	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/internal/scripts"
	"github.com/redis/go-redis/v9"
)

var (
	addScript    = redis.NewScript(scripts.Add)
	reduceScript = redis.NewScript(scripts.Reduce)
)

type cache struct {
	client redis.UniversalClient
	locker *redislock.Client
}

// New returns a Cache that keeps usage through client.
func New(client redis.UniversalClient) andromeda.Cache {
	return &cache{client: client, locker: redislock.New(client)}
}

func (c *cache) AddUsage(ctx context.Context, args andromeda.AddUsageArgs) (andromeda.CacheResult, error) {
	absent := int64(-1)
	if args.CreateMissing {
		absent = scripts.Milliseconds(args.Expiration)
	}
	reply, err := addScript.Run(ctx, c.client, []string{args.Key}, args.Amount, args.Limit, absent).Result()
	return result(args.Key, reply, err)
}

func (c *cache) ReduceUsage(ctx context.Context, key string, amount int64) (andromeda.CacheResult, error) {
	reply, err := reduceScript.Run(ctx, c.client, []string{key}, amount).Result()
	return result(key, reply, err)
}

func (c *cache) SetUsageIfAbsent(ctx context.Context, key string, usage int64, expiration time.Duration) (bool, error) {
	ok, err := c.client.SetNX(ctx, key, usage, expiration).Result()
	if err != nil {
		return false, fmt.Errorf("set usage of %q: %w", key, err)
	}
	return ok, nil
}

func (c *cache) GetUsage(ctx context.Context, key string) (int64, bool, error) {
	raw, err := c.client.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("get usage of %q: %w", key, err)
	}
	usage, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("%w: key %q holds %q", andromeda.ErrInvalidCachedUsage, key, raw)
	}
	return usage, true, nil
}

func (c *cache) Lock(ctx context.Context, key string, ttl time.Duration) (andromeda.ReleaseFunc, error) {
	lock, err := c.locker.Obtain(ctx, key, ttl, nil)
	if errors.Is(err, redislock.ErrNotObtained) {
		return nil, fmt.Errorf("%w: %q", andromeda.ErrLockedKey, key)
	}
	if err != nil {
		return nil, fmt.Errorf("lock %q: %w", key, err)
	}
	return lock.Release, nil
}

// result turns a script reply into a CacheResult.
func result(key string, reply interface{}, err error) (andromeda.CacheResult, error) {
	if err != nil {
		return andromeda.CacheResult{}, fmt.Errorf("change usage of %q: %w", key, err)
	}
	r, err := scripts.Parse(reply)
	if err != nil {
		return andromeda.CacheResult{}, fmt.Errorf("change usage of %q: %w", key, err)
	}
	if r.Status == scripts.NotInteger {
		return andromeda.CacheResult{}, fmt.Errorf("%w: key %q holds %q", andromeda.ErrInvalidCachedUsage, key, r.Raw)
	}
	return andromeda.CacheResult{Status: andromeda.CacheStatus(r.Status), Usage: r.Usage}, nil
}
