package redisv8_test

import (
	"context"
	"errors"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/go-redis/redis/v8"
	"github.com/ramadani/andromeda/cache/cachetest"
	"github.com/ramadani/andromeda/cache/redisv8"
	"github.com/ramadani/andromeda/internal/redistest"
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

// go-redis v8 cannot read a Redis 7 cluster's slot table: the package doc says so, and
// this test keeps that statement true. Older clusters run the conformance suite.
func TestConformanceCluster(t *testing.T) {
	c := cluster.Get(t)
	node := redis.NewClient(&redis.Options{Addr: c.Addrs()[0]})
	defer node.Close()
	info, err := node.Info(context.Background(), "server").Result()
	if err != nil {
		t.Fatal(err)
	}
	if major := regexp.MustCompile(`redis_version:(\d+)\.`).FindStringSubmatch(info); major != nil && atoi(major[1]) >= 7 {
		client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
		defer client.Close()
		_, _, err := storeOver(redisv8.New(client)).GetUsage(context.Background(), "k")
		if err == nil || !strings.Contains(err.Error(), "got 4 elements in cluster info address") {
			t.Fatalf("go-redis v8 on a Redis 7 cluster: got %v, want the documented slot-table error", err)
		}
		return
	}
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

func harness(t *testing.T, client redis.UniversalClient, advance func(time.Duration)) cachetest.Harness {
	t.Cleanup(func() { client.Close() })
	return cachetest.Harness{
		Cache: redisv8.New(client),
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

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
