package andromeda_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/redisv9"
	"github.com/ramadani/andromeda/internal/faultproxy"
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A loader whose write reaches Redis after its lock expired changes nothing: meanwhile
// another process loaded, sold 50, synced the database and the key was evicted, so the
// stale value (0) would let those 50 be sold again.
func TestLateLoaderWriteChangesNothing(t *testing.T) {
	res := lateLoaderWrite(t, func(c andromeda.Cache) andromeda.Cache { return c })
	// Refused; or, since the write outlived its load's context (LockIn), cut short with an
	// unknown outcome while it went on to Redis and was refused there.
	require.True(t, errors.Is(res.writeErr, andromeda.ErrLockedKey) || errors.Is(res.writeErr, andromeda.ErrUnknownOutcome),
		"the late write is refused: %v", res.writeErr)
	assert.False(t, res.keyAfterWrite, "the late write put nothing back")
	assert.Equal(t, int64(100), res.sold, "exactly the limit is sold")
	assert.Equal(t, int64(100), res.usage)
}

// The same scenario with the write unfenced (a plain SET NX, as before) oversells by 50:
// the test above can fail.
func TestLateLoaderWriteUnfencedOversells(t *testing.T) {
	res := lateLoaderWrite(t, func(c andromeda.Cache) andromeda.Cache { return unfenced{c} })
	require.NoError(t, res.writeErr)
	assert.True(t, res.keyAfterWrite, "the unfenced late write put the stale value back")
	assert.Equal(t, int64(150), res.sold, "the 50 sold meanwhile are sold again")
}

type lateWriteResult struct {
	writeErr      error // what the late loader's write returned
	keyAfterWrite bool  // whether the usage key existed right after it
	sold          int64 // adds of 1 acknowledged, by every process, against limit 100
	usage         int64 // the usage in Redis at the end
}

// lateLoaderWrite plays the scenario: process A loads through a proxy that delays its
// write past LockIn; process B (direct) loads, sells 50, syncs the database and the key
// is evicted before A's write lands; then process C sells to the limit.
func lateLoaderWrite(t *testing.T, wrap func(andromeda.Cache) andromeda.Cache) lateWriteResult {
	server := redistest.Standalone(t)
	proxy, err := faultproxy.Start(server.Addr)
	require.NoError(t, err)
	t.Cleanup(proxy.Close)
	// No context deadline on reads: the write's reply comes back once Redis ran it, which
	// is how the test knows the late write landed.
	slow := redis.NewClient(&redis.Options{Addr: proxy.Addr(), MaxRetries: -1, ReadTimeout: 5 * time.Second})
	t.Cleanup(func() { slow.Close() })
	direct := newBackend(t, "direct", redis.NewClient(&redis.Options{Addr: server.Addr}), true)

	const latency = 1500 * time.Millisecond
	conf := andromeda.GetQuotaUsageConfig{LockIn: 300 * time.Millisecond, MaxRetry: 50, RetryIn: 10 * time.Millisecond}
	db := newQuotaDB()
	db.put("v1", 100, 0)
	written := make(chan error, 1)
	slowCache := &lockSpy{Cache: wrap(redisv9.New(slow)), written: written}
	loadA := andromeda.GetQuotaFunc(func(ctx context.Context, r *andromeda.QuotaRequest) (int64, error) {
		usage, err := db.usage().Do(ctx, r)
		proxy.SetLatency(latency) // the write that follows is slow to arrive
		return usage, err
	})
	addA := newAdd(backend{cache: slowCache}, db, func(c *andromeda.AddQuotaUsageConfig) {
		c.GetQuotaUsage, c.GetQuotaUsageConfig = loadA, conf
	})
	addDirect := newAdd(direct, db, func(c *andromeda.AddQuotaUsageConfig) { c.GetQuotaUsageConfig = conf })

	var res lateWriteResult
	aDone := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := addA.Do(ctx, req("v1", 1))
		aDone <- err
	}()

	// A's lock expires while its write is on the way.
	lockKey := keyOf("v1") + ":andromeda-load-lock"
	ctx := context.Background()
	require.Eventually(t, func() bool {
		return slowCache.locked() && direct.client.Exists(ctx, lockKey).Val() == 0
	}, 3*time.Second, 5*time.Millisecond)
	for i := 0; i < 50; i++ { // B loads 0 and sells 50
		_, err := addDirect.Do(ctx, req("v1", 1))
		require.NoError(t, err)
	}
	res.sold = 50
	db.put("v1", 100, direct.get(t, keyOf("v1"))) // synced
	require.NoError(t, direct.client.Del(ctx, keyOf("v1")).Err())

	select { // A's write lands
	case res.writeErr = <-written:
	case <-time.After(5 * time.Second):
		t.Fatal("the late write never came back")
	}
	if errors.Is(res.writeErr, andromeda.ErrUnknownOutcome) {
		time.Sleep(latency + 500*time.Millisecond) // the write itself lands later
	}
	res.keyAfterWrite = direct.get(t, keyOf("v1")) != -1
	if err := <-aDone; err == nil {
		res.sold++ // A's own add, if it got through after all
	}
	proxy.SetLatency(0)

	for { // C sells what is left
		_, err := addDirect.Do(ctx, req("v1", 1))
		if errors.Is(err, andromeda.ErrQuotaLimitExceeded) {
			break
		}
		require.NoError(t, err)
		res.sold++
	}
	res.usage = direct.get(t, keyOf("v1"))
	t.Logf("late write: %v, key back after it: %v, sold %d against limit 100", res.writeErr, res.keyAfterWrite, res.sold)
	return res
}

// lockSpy reports the outcome of the first loader write made under its first lock.
type lockSpy struct {
	andromeda.Cache
	written chan<- error
	taken   atomic.Bool
	lockKey atomic.Value // string: the spied lock's key
	spied   atomic.Bool  // the spied write was reported
}

// locked reports whether the spied lock was taken.
func (c *lockSpy) locked() bool { return c.taken.Load() }

func (c *lockSpy) Lock(ctx context.Context, key string, ttl time.Duration) (string, func(context.Context) error, error) {
	token, release, err := c.Cache.Lock(ctx, key, ttl)
	if err == nil && c.taken.CompareAndSwap(false, true) {
		c.lockKey.Store(key)
	}
	return token, release, err
}

func (c *lockSpy) RunScript(ctx context.Context, s *andromeda.Script, keys []string, args ...any) (any, error) {
	reply, err := c.Cache.RunScript(ctx, s, keys, args...)
	if s.SHA1() == fencedLoadSHA && c.lockKey.Load() == keys[0] && c.spied.CompareAndSwap(false, true) {
		c.written <- fencedOutcome(reply, err)
	}
	return reply, err
}

// fencedOutcome is what a fenced loader write's reply means, as the library reads it:
// -1 is a lock that is no longer held, and an error other than Redis's answer leaves the
// write's outcome unknown.
func fencedOutcome(reply any, err error) error {
	var redisErr interface{ RedisError() }
	switch {
	case err != nil && !errors.As(err, &redisErr) && !errors.Is(err, andromeda.ErrNotSent):
		return fmt.Errorf("%w: %w", andromeda.ErrUnknownOutcome, err)
	case err != nil:
		return err
	case reply == int64(-1):
		return fmt.Errorf("%w: the load lock expired", andromeda.ErrLockedKey)
	}
	return nil
}

// unfenced is a Cache whose loader write does not check the lock: a plain SET NX.
type unfenced struct{ andromeda.Cache }

// setIfAbsent is the loader write without its fence: KEYS[1] (the lock) is not read.
var setIfAbsent = andromeda.NewScript(`local ms = tonumber(ARGV[3])
local set
if ms > 0 then set = redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ms)
else set = redis.call('SET', KEYS[2], ARGV[2], 'NX') end
if set then return 1 end
return 0`)

func (c unfenced) RunScript(ctx context.Context, s *andromeda.Script, keys []string, args ...any) (any, error) {
	if s.SHA1() == fencedLoadSHA {
		// As the plain SET NX it replaces: a command the client waits out, whatever
		// the context says.
		return c.Cache.RunScript(context.WithoutCancel(ctx), setIfAbsent, keys, args...)
	}
	return c.Cache.RunScript(ctx, s, keys, args...)
}
