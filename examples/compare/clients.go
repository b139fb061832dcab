package main

import (
	"context"
	"fmt"

	redisv8client "github.com/go-redis/redis/v8"
	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/redisv8"
	"github.com/ramadani/andromeda/cache/redisv9"
	rueidiscache "github.com/ramadani/andromeda/cache/rueidis"
	valkeycache "github.com/ramadani/andromeda/cache/valkey"
	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
	"github.com/valkey-io/valkey-go"
)

// client is one Redis client the modes run through: its own INCRBY, optionally the bare
// Lua script, and andromeda's Cache over it.
type client struct {
	name  string
	incr  func(ctx context.Context, key string) error
	bare  func(ctx context.Context, key string) error // nil: not measured for this client
	cache andromeda.Cache
	close func()
}

// newClient connects the client called name (v9, v8, rueidis, valkey) to addr, with a
// pool as large as the concurrency for the go-redis ones.
func newClient(name, addr string, concurrency int) (client, error) {
	switch name {
	case "v9":
		c := redis.NewClient(&redis.Options{Addr: addr, PoolSize: concurrency})
		return client{name: "go-redis v9",
			incr: func(ctx context.Context, key string) error { return c.IncrBy(ctx, key, 1).Err() },
			bare: func(ctx context.Context, key string) error {
				return bareScript.Run(ctx, c, []string{key}, 1, andromeda.MaxAmount, keyTTL.Milliseconds()).Err()
			},
			cache: redisv9.New(c), close: func() { c.Close() }}, nil
	case "v8":
		c := redisv8client.NewClient(&redisv8client.Options{Addr: addr, PoolSize: concurrency})
		return client{name: "go-redis v8",
			incr:  func(ctx context.Context, key string) error { return c.IncrBy(ctx, key, 1).Err() },
			cache: redisv8.New(c), close: func() { c.Close() }}, nil
	case "rueidis":
		c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
		if err != nil {
			return client{}, fmt.Errorf("rueidis: %w", err)
		}
		bare := rueidis.NewLuaScript(bareSource)
		return client{name: "rueidis",
			incr: func(ctx context.Context, key string) error {
				return c.Do(ctx, c.B().Incrby().Key(key).Increment(1).Build()).Error()
			},
			bare: func(ctx context.Context, key string) error {
				return bare.Exec(ctx, c, []string{key}, bareArgs).Error()
			},
			cache: rueidiscache.New(c), close: c.Close}, nil
	case "valkey":
		c, err := valkey.NewClient(valkey.ClientOption{InitAddress: []string{addr}, DisableCache: true})
		if err != nil {
			return client{}, fmt.Errorf("valkey-go: %w", err)
		}
		return client{name: "valkey-go",
			incr: func(ctx context.Context, key string) error {
				return c.Do(ctx, c.B().Incrby().Key(key).Increment(1).Build()).Error()
			},
			cache: valkeycache.New(c), close: c.Close}, nil
	}
	return client{}, fmt.Errorf("-clients: %q is not one of v9, v8, rueidis, valkey", name)
}

// bareArgs are the bare script's arguments: add 1, limit MaxAmount, expire after keyTTL.
var bareArgs = []string{"1", fmt.Sprint(andromeda.MaxAmount), fmt.Sprint(keyTTL.Milliseconds())}
