package rueidis_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/cachetest"
	cache "github.com/ramadani/andromeda/cache/rueidis"
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
		// miniredis speaks RESP3 but has no CLIENT TRACKING: no client-side cache.
		return harness(t, newClient(t, rueidis.ClientOption{InitAddress: []string{m.Addr()}, DisableCache: true}), m.FastForward)
	})
}

func TestConformanceStandalone(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) cachetest.Harness {
		server := redistest.Standalone(t)
		return harness(t, newClient(t, rueidis.ClientOption{InitAddress: []string{server.Addr}}), time.Sleep)
	})
}

func TestConformanceCluster(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) cachetest.Harness {
		c := cluster.Get(t)
		return harness(t, newClient(t, rueidis.ClientOption{InitAddress: c.Addrs()}), time.Sleep)
	})
}

func TestConformanceSentinel(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) cachetest.Harness {
		sentinel := redistest.Sentinel(t)
		client := newClient(t, rueidis.ClientOption{InitAddress: []string{sentinel},
			Sentinel: rueidis.SentinelOption{MasterSet: redistest.SentinelMaster}})
		return harness(t, client, time.Sleep)
	})
}

// newClient connects with opt, and closes the client when the test ends.
func newClient(t testing.TB, opt rueidis.ClientOption) rueidis.Client {
	client, err := rueidis.NewClient(opt)
	require.NoError(t, err)
	t.Cleanup(client.Close)
	return client
}

func harness(t *testing.T, client rueidis.Client, advance func(time.Duration)) cachetest.Harness {
	return cachetest.Harness{
		Cache: cache.New(client),
		SetRaw: func(ctx context.Context, key, value string) error {
			return client.Do(ctx, client.B().Set().Key(key).Value(value).Build()).Error()
		},
		GetRaw: func(ctx context.Context, key string) (string, bool, error) {
			value, err := client.Do(ctx, client.B().Get().Key(key).Build()).ToString()
			if rueidis.IsRedisNil(err) {
				return "", false, nil
			}
			return value, err == nil, err
		},
		TTL: func(ctx context.Context, key string) (time.Duration, error) {
			ms, err := client.Do(ctx, client.B().Pttl().Key(key).Build()).AsInt64()
			if ms < 0 {
				return time.Duration(ms), err // -1 no expiry, -2 no key, as go-redis reports them
			}
			return time.Duration(ms) * time.Millisecond, err
		},
		Advance: advance,
	}
}

// A key that holds a hash is reported as not holding a usage, whether read alone or
// with others, on a standalone server and on a cluster (one pipeline per node).
func TestGetUsagesOfAHashIsInvalid(t *testing.T) {
	ctx := context.Background()
	for name, addrs := range map[string]func(t *testing.T) []string{
		"standalone": func(t *testing.T) []string { return []string{redistest.Standalone(t).Addr} },
		"cluster":    func(t *testing.T) []string { return cluster.Get(t).Addrs() },
	} {
		t.Run(name, func(t *testing.T) {
			client := newClient(t, rueidis.ClientOption{InitAddress: addrs(t)})
			require.NoError(t, client.Do(ctx, client.B().Hset().Key("h").FieldValue().FieldValue("f", "1").Build()).Error())
			require.NoError(t, client.Do(ctx, client.B().Set().Key("u").Value("3").Build()).Error())
			c := storeOver(cache.New(client))
			_, _, err := c.GetUsages(ctx, []string{"u", "h"})
			require.ErrorIs(t, err, andromeda.ErrInvalidCachedUsage)
			_, _, err = c.GetUsage(ctx, "h")
			require.ErrorIs(t, err, andromeda.ErrInvalidCachedUsage)
			usages, found, err := c.GetUsages(ctx, []string{"u", "absent"})
			require.NoError(t, err)
			assert.Equal(t, []int64{3, 0}, usages)
			assert.Equal(t, []bool{true, false}, found)
		})
	}
}

// An expiration under a millisecond is rounded up to one, as the scripts round theirs:
// PX 0 would be an error from Redis. The loader's lock (SET NX PX in the adapter) and the
// store's writes (scripts) alike.
func TestSubMillisecondExpirationIsOneMillisecond(t *testing.T) {
	ctx := context.Background()
	m := miniredis.RunT(t)
	client := newClient(t, rueidis.ClientOption{InitAddress: []string{m.Addr()}, DisableCache: true})
	c := cache.New(client)
	_, release, err := c.Lock(ctx, "lock", 500*time.Microsecond)
	require.NoError(t, err)
	s := storeOver(c)
	set, err := s.SetUsageIfAbsent(ctx, "a", 1, 500*time.Microsecond)
	require.NoError(t, err)
	assert.True(t, set)
	require.NoError(t, s.SetValue(ctx, "b", 1, 500*time.Microsecond))
	for _, key := range []string{"lock", "a", "b"} {
		assert.Equal(t, time.Millisecond, m.TTL(key), key)
	}
	require.NoError(t, release(ctx))
}

// An error reply whose code is ERR keeps it: rueidis's own error trims it, and the
// library reads replies by their code.
func TestErrorReplyKeepsERR(t *testing.T) {
	ctx := context.Background()
	client := newClient(t, rueidis.ClientOption{InitAddress: []string{redistest.Standalone(t).Addr}})
	_, err := cache.New(client).RunScript(ctx, andromeda.NewScript("return redis.error_reply('ERR boom')"), []string{"k"})
	require.Error(t, err)
	assert.Equal(t, "ERR boom", err.Error())
	var reply interface{ RedisError() }
	assert.True(t, errors.As(err, &reply))
	var clientErr *rueidis.RedisError
	assert.True(t, errors.As(err, &clientErr), "errors.As finds the client's error")
	assert.NotErrorIs(t, err, andromeda.ErrNotSent)
}

// The library makes a cluster client relearn its slot map (here: learns that it does so
// by itself) and waits for replicas only when asked to.
func TestOptionalInterfaces(t *testing.T) {
	standalone := newClient(t, rueidis.ClientOption{InitAddress: []string{redistest.Standalone(t).Addr}})
	clustered := newClient(t, rueidis.ClientOption{InitAddress: cluster.Get(t).Addrs()})
	ctx := context.Background()
	assert.False(t, cache.New(standalone).(andromeda.SlotRefresher).RefreshSlots(ctx))
	assert.True(t, cache.New(clustered).(andromeda.SlotRefresher).RefreshSlots(ctx))
	assert.False(t, cache.New(standalone).(andromeda.ReplicaWaiter).WaitsForReplicas())
	assert.True(t, cache.New(standalone, cache.WaitForReplicas(1, time.Second)).(andromeda.ReplicaWaiter).WaitsForReplicas())
}
