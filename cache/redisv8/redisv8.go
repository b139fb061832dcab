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
// go-redis v8 checks the context before a call, but the call itself is bounded by the
// client's ReadTimeout and WriteTimeout, not by the context's deadline.
package redisv8

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/go-redis/redis/v8"
	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/internal/scripts"
)

var (
	addScript    = redis.NewScript(scripts.Add)
	reduceScript = redis.NewScript(scripts.Reduce)
	unlockScript = redis.NewScript(scripts.Unlock)
)

type cache struct {
	client redis.UniversalClient
}

// New returns a Cache that keeps usage through client.
func New(client redis.UniversalClient) andromeda.Cache {
	return &cache{client: client}
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
	token := make([]byte, 16)
	if _, err := rand.Read(token); err != nil {
		return nil, fmt.Errorf("lock %q: %w", key, err)
	}
	value := base64.RawURLEncoding.EncodeToString(token)
	ok, err := c.client.SetNX(ctx, key, value, ttl).Result()
	if err != nil {
		return nil, fmt.Errorf("lock %q: %w", key, err)
	}
	if !ok {
		return nil, fmt.Errorf("%w: %q", andromeda.ErrLockedKey, key)
	}
	return func(ctx context.Context) error {
		return unlockScript.Run(ctx, c.client, []string{key}, value).Err()
	}, nil
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
