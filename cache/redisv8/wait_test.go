package redisv8_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-redis/redis/v8"
	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/cachetest"
	"github.com/ramadani/andromeda/cache/redisv8"
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// primaryWithReplica starts a primary and a replica of it, and waits until they are linked.
func primaryWithReplica(t testing.TB) *redistest.Server {
	primary := redistest.Standalone(t, "--repl-diskless-sync-delay", "0") // full sync at once
	host, port, _ := strings.Cut(primary.Addr, ":")
	redistest.Standalone(t, "--replicaof", host, port)
	client := redis.NewClient(&redis.Options{Addr: primary.Addr})
	defer client.Close()
	// The primary counts a replica for WAIT once it is online, after its first ACK.
	require.Eventually(t, func() bool {
		info, err := client.Info(context.Background(), "replication").Result()
		return err == nil && strings.Contains(info, ",state=online")
	}, 10*time.Second, 20*time.Millisecond, "replica online")
	return primary
}

// With a replica that keeps up, every change is confirmed: the whole conformance suite
// passes through the WAIT pipeline.
func TestConformanceWaitForReplicas(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) cachetest.Harness {
		primary := primaryWithReplica(t)
		h := harness(t, redis.NewClient(&redis.Options{Addr: primary.Addr}), time.Sleep)
		h.Cache = redisv8.New(redis.NewClient(&redis.Options{Addr: primary.Addr}), redisv8.WaitForReplicas(1, time.Second))
		return h
	})
}

// Without a replica, WAIT falls short: the add was applied on the primary, and the
// caller hears that its outcome is unknown, not that it succeeded.
func TestWaitForReplicasShortfallIsUnknown(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		client func(t *testing.T) redis.UniversalClient
	}{
		{"standalone", func(t *testing.T) redis.UniversalClient {
			return redis.NewClient(&redis.Options{Addr: redistest.Standalone(t).Addr})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := tc.client(t)
			t.Cleanup(func() { client.Close() })
			cache := redisv8.New(client, redisv8.WaitForReplicas(1, 10*time.Millisecond))
			for i := range 3 {
				key := fmt.Sprintf("wait-%d", i)
				_, err := cache.AddUsage(ctx, andromeda.AddUsageArgs{Key: key, Amount: 2, Limit: 10, CreateMissing: true})
				require.ErrorIs(t, err, andromeda.ErrUnknownOutcome)
				assert.Contains(t, err.Error(), "0 of 1 replicas")
				usage, err := client.Get(ctx, key).Int64()
				require.NoError(t, err)
				assert.Equal(t, int64(2), usage, "applied on the primary")
			}
		})
	}
}

func TestWaitForReplicasRejectsBadArguments(t *testing.T) {
	assert.Panics(t, func() { redisv8.WaitForReplicas(0, time.Second) })
	assert.Panics(t, func() { redisv8.WaitForReplicas(1, 0) })
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}})
	defer ring.Close()
	assert.Panics(t, func() { redisv8.New(ring, redisv8.WaitForReplicas(1, time.Second)) })
	assert.NotPanics(t, func() { redisv8.New(ring) })
}
