// Package scriptcache implements andromeda.Cache once, over the few calls it needs from a
// Redis client; each adapter supplies them for its go-redis version.
package scriptcache

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/internal/scripts"
)

// Script names one of the scripts in internal/scripts.
type Script int

// The scripts a Client runs.
const (
	Add      Script = iota // scripts.Add
	Reduce                 // scripts.Reduce
	AddBatch               // scripts.AddBatch
)

// Client is what the cache needs from a Redis client, in types that do not depend on the
// client's version.
type Client interface {
	// Run runs the script by its SHA1, sending its source only when the server answers
	// NOSCRIPT (go-redis's Script.Run), and returns the raw reply.
	Run(ctx context.Context, script Script, key string, args ...interface{}) (interface{}, error)
	// SetNX sets key to value with the expiration (0 means none) if key is absent.
	SetNX(ctx context.Context, key string, value int64, expiration time.Duration) (bool, error)
	// Get returns the value at key, and whether the key exists.
	Get(ctx context.Context, key string) (string, bool, error)
	// Lock is andromeda.Cache's Lock.
	Lock(ctx context.Context, key string, ttl time.Duration) (andromeda.ReleaseFunc, error)
}

// New returns an andromeda.Cache over client; it is also an andromeda.BatchCache.
func New(client Client) andromeda.Cache { return &cache{client} }

type cache struct {
	client Client
}

func (c *cache) AddUsage(ctx context.Context, args andromeda.AddUsageArgs) (andromeda.CacheResult, error) {
	reply, err := c.client.Run(ctx, Add, args.Key, args.Amount, args.Limit, absentArg(args))
	return result(args.Key, reply, err)
}

func (c *cache) AddUsageBatch(ctx context.Context, batch []andromeda.AddUsageArgs) ([]andromeda.CacheResult, error) {
	if len(batch) == 0 {
		return nil, nil
	}
	args := make([]interface{}, 0, 1+2*len(batch))
	args = append(args, absentArg(batch[0]))
	for _, a := range batch {
		args = append(args, a.Amount, a.Limit)
	}
	key := batch[0].Key
	reply, err := c.client.Run(ctx, AddBatch, key, args...)
	if err != nil {
		return nil, fmt.Errorf("change usage of %q: %w", key, err)
	}
	replies, err := scripts.ParseBatch(reply)
	if err != nil {
		return nil, fmt.Errorf("change usage of %q: %w", key, err)
	}
	if len(replies) == 1 && replies[0].Status == scripts.NotInteger {
		return nil, fmt.Errorf("%w: key %q holds %q", andromeda.ErrInvalidCachedUsage, key, replies[0].Raw)
	}
	if len(replies) != len(batch) {
		return nil, fmt.Errorf("change usage of %q: %d results for %d adds", key, len(replies), len(batch))
	}
	results := make([]andromeda.CacheResult, len(replies))
	for i, r := range replies {
		results[i] = andromeda.CacheResult{Status: andromeda.CacheStatus(r.Status), Usage: r.Usage}
	}
	return results, nil
}

// absentArg tells the scripts what to do with an absent key: -1 reports it missing, 0 or
// more starts it at zero with that expiration in milliseconds.
func absentArg(args andromeda.AddUsageArgs) int64 {
	if !args.CreateMissing {
		return -1
	}
	return scripts.Milliseconds(args.Expiration)
}

func (c *cache) ReduceUsage(ctx context.Context, key string, amount int64) (andromeda.CacheResult, error) {
	reply, err := c.client.Run(ctx, Reduce, key, amount)
	return result(key, reply, err)
}

func (c *cache) SetUsageIfAbsent(ctx context.Context, key string, usage int64, expiration time.Duration) (bool, error) {
	ok, err := c.client.SetNX(ctx, key, usage, expiration)
	if err != nil {
		return false, fmt.Errorf("set usage of %q: %w", key, err)
	}
	return ok, nil
}

func (c *cache) GetUsage(ctx context.Context, key string) (int64, bool, error) {
	raw, found, err := c.client.Get(ctx, key)
	if err != nil {
		return 0, false, fmt.Errorf("get usage of %q: %w", key, err)
	}
	if !found {
		return 0, false, nil
	}
	usage, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("%w: key %q holds %q", andromeda.ErrInvalidCachedUsage, key, raw)
	}
	return usage, true, nil
}

func (c *cache) Lock(ctx context.Context, key string, ttl time.Duration) (andromeda.ReleaseFunc, error) {
	return c.client.Lock(ctx, key, ttl)
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
