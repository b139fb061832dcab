package redisv9_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/ramadani/andromeda/cache/cachetest"
	"github.com/ramadani/andromeda/cache/redisv9"
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/redis/go-redis/v9"
)

var cluster redistest.SharedCluster

func TestMain(m *testing.M) {
	code := m.Run()
	cluster.Stop()
	os.Exit(code)
}

func TestConformanceMiniredis(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) cachetest.Harness {
		m := miniredis.RunT(t)
		return harness(t, redis.NewClient(&redis.Options{Addr: m.Addr()}), m.FastForward)
	})
}

func TestConformanceStandalone(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) cachetest.Harness {
		server := redistest.Standalone(t)
		return harness(t, redis.NewClient(&redis.Options{Addr: server.Addr}), time.Sleep)
	})
}

func TestConformanceCluster(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) cachetest.Harness {
		c := cluster.Get(t)
		return harness(t, redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()}), time.Sleep)
	})
}

func TestConformanceSentinel(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) cachetest.Harness {
		sentinel := redistest.Sentinel(t)
		client := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: redistest.SentinelMaster, SentinelAddrs: []string{sentinel}})
		return harness(t, client, time.Sleep)
	})
}

func TestConformanceRing(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) cachetest.Harness {
		a, b := redistest.Standalone(t), redistest.Standalone(t)
		client := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": a.Addr, "b": b.Addr}})
		return harness(t, client, time.Sleep)
	})
}

func harness(t *testing.T, client redis.UniversalClient, advance func(time.Duration)) cachetest.Harness {
	t.Cleanup(func() { client.Close() })
	return cachetest.Harness{
		Cache: redisv9.New(client),
		SetRaw: func(ctx context.Context, key, value string) error {
			return client.Set(ctx, key, value, 0).Err()
		},
		GetRaw: func(ctx context.Context, key string) (string, bool, error) {
			value, err := client.Get(ctx, key).Result()
			if errors.Is(err, redis.Nil) {
				return "", false, nil
			}
			return value, err == nil, err
		},
		TTL: func(ctx context.Context, key string) (time.Duration, error) {
			return client.PTTL(ctx, key).Result()
		},
		Advance: advance,
	}
}
