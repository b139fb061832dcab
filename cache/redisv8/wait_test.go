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
	"github.com/ramadani/andromeda/internal/storetypes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// primaryWithReplica starts a primary and a replica of it, and waits until they are linked.
func primaryWithReplica(t testing.TB) *redistest.Server {
	primary, _ := primaryAndReplica(t)
	return primary
}

// primaryAndReplica starts a primary and a replica of it (DEBUG enabled), and waits until
// they are linked.
func primaryAndReplica(t testing.TB) (primary, replica *redistest.Server) {
	primary = redistest.Standalone(t, "--repl-diskless-sync-delay", "0") // full sync at once
	host, port, _ := strings.Cut(primary.Addr, ":")
	replica = redistest.Standalone(t, "--replicaof", host, port, "--enable-debug-command", "yes")
	client := redis.NewClient(&redis.Options{Addr: primary.Addr})
	defer client.Close()
	// The primary counts a replica for WAIT once it is online, after its first ACK.
	require.Eventually(t, func() bool {
		info, err := client.Info(context.Background(), "replication").Result()
		return err == nil && strings.Contains(info, ",state=online")
	}, 10*time.Second, 20*time.Millisecond, "replica online")
	return primary, replica
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
			cache := storeOver(redisv8.New(client, redisv8.WaitForReplicas(1, 10*time.Millisecond)))
			for i := range 3 {
				key := fmt.Sprintf("wait-%d", i)
				_, err := cache.AddUsage(ctx, storetypes.AddUsageArgs{Key: key, Amount: 2, Limit: 10, CreateMissing: true})
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

// A keyed change whose WAIT fell short is replayed later on another pooled connection,
// one whose last write the replica has acknowledged, while the replica still has not
// acknowledged the change itself: the replay is confirmed only once the replica has the
// change. (Redis 7.0 passes this even without the store's touch.lua, see internal/scripts; the
// test guards servers whose WAIT counts only a connection's own writes.)
func TestWaitForReplicasConfirmsReplays(t *testing.T) {
	ctx := context.Background()
	primary, replica := primaryAndReplica(t)
	args := storetypes.AddUsageArgs{Key: "k", Amount: 1, Limit: 10, CreateMissing: true,
		Idempotency: storetypes.Idempotency{RecordKey: "k:rec", Retention: time.Minute}}
	newCache := func() usageStore {
		client := redis.NewClient(&redis.Options{Addr: primary.Addr, PoolSize: 1})
		t.Cleanup(func() { client.Close() })
		return storeOver(redisv8.New(client, redisv8.WaitForReplicas(1, 100*time.Millisecond)))
	}
	first, retrier := newCache(), newCache()
	// The retrier's one connection writes, and the replica acknowledges it.
	require.Eventually(t, func() bool {
		_, err := retrier.AddUsage(ctx, storetypes.AddUsageArgs{Key: "other", Amount: 1, Limit: 1 << 40, CreateMissing: true})
		return err == nil
	}, 5*time.Second, 10*time.Millisecond)

	replicaClient := redis.NewClient(&redis.Options{Addr: replica.Addr})
	t.Cleanup(func() { replicaClient.Close() })
	asleep := make(chan error, 1)
	go func() { asleep <- replicaClient.Do(ctx, "debug", "sleep", "1").Err() }() // no ACKs for 1s
	time.Sleep(100 * time.Millisecond)

	_, err := first.AddUsage(ctx, args)
	require.ErrorIs(t, err, andromeda.ErrUnknownOutcome, "applied on the primary only")
	res, err := retrier.AddUsage(ctx, args) // the caller's retry, on the other connection
	require.ErrorIs(t, err, andromeda.ErrUnknownOutcome, "the replica still does not have it: got %+v", res)
	require.NoError(t, <-asleep)

	res, err = retrier.AddUsage(ctx, args) // once the replica is back
	require.NoError(t, err)
	assert.True(t, res.Replayed)
	assert.Equal(t, int64(1), res.Usage)
}
