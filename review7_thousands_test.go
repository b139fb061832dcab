package andromeda_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/redisv9"
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
)

// README: "changes it safely when thousands of requests race for it", and Guarantee 2's
// "64 callers on a cold key with a 50 ms loader: it runs once, none fails". Here 5,000
// claims start at once on a cold key, through a go-redis v9 client with default options
// (a pool of 20 connections on this machine), with a 100 ms loader; plain and coalesced,
// keyed (as the README advises) or not. The loader runs once; each claim is admitted or
// refused, none fails; exactly the limit is admitted; one listener call per Do.
func TestReview7FiveThousandClaimsOnAColdKey(t *testing.T) {
	redistest.Require(t)
	const claims, limit = 5000, 3000
	for _, mode := range []string{"plain", "keyed", "coalesced"} {
		t.Run(mode, func(t *testing.T) {
			server := redistest.Standalone(t)
			client := redis.NewClient(&redis.Options{Addr: server.Addr})
			t.Cleanup(func() { client.Close() })
			b := backend{name: "standalone", real: true, client: client, cache: redisv9.New(client)}
			db := newQuotaDB()
			db.put("hot", limit, 0)
			db.loadDelay = 100 * time.Millisecond
			listener := &countingListener{}
			add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) {
				c.GetQuotaUsageConfig = andromeda.GetQuotaUsageConfig{} // the defaults
				c.Option.Coalesce = mode == "coalesced"
				c.Option.Listener = listener
			})
			var admitted, refused atomic.Int64
			var mu sync.Mutex
			var failed []error
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := 0; i < claims; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					r := req("hot", 1)
					if mode == "keyed" {
						r.IdempotencyKey = fmt.Sprint("claim-", i)
					}
					ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
					defer cancel()
					<-start
					_, err := add.Do(ctx, r)
					switch {
					case err == nil:
						admitted.Add(1)
					case errors.Is(err, andromeda.ErrQuotaLimitExceeded):
						refused.Add(1)
					default:
						mu.Lock()
						failed = append(failed, err)
						mu.Unlock()
					}
				}(i)
			}
			began := time.Now()
			close(start)
			wg.Wait()
			t.Logf("%s: admitted %d, refused %d, failed %d, loads %d, in %v", mode, admitted.Load(), refused.Load(), len(failed), db.loads.Load(), time.Since(began).Round(time.Millisecond))
			if len(failed) > 0 {
				t.Logf("first failure: %v", failed[0])
			}
			assert.Empty(t, failed, "none fails")
			assert.Equal(t, int64(1), db.loads.Load(), "the loader runs once")
			assert.Equal(t, int64(limit), admitted.Load())
			assert.Equal(t, int64(limit), b.get(t, keyOf("hot")))
			assert.Equal(t, int64(claims), listener.successes.Load()+listener.errors.Load())
		})
	}
}

// The same 5,000 keyed claims at once on a cold key, through a proxy that drops 10% of
// replies after Redis ran the script (go-redis v9, default options: 20 connections),
// LockIn 500 ms, each retried by the application with its key while its outcome is unknown
// or Redis unavailable, as the README says. Counts stay exact (usage == admitted), but
// thousands of claims fail with "lock ...: context deadline exceeded", wrapping no
// sentinel, although their own contexts have 13 s left and the usage was loaded once and
// is in Redis: a second load (callers that found the key missing before the first load
// landed) waits for a pooled connection longer than LockIn, and its error is every
// waiting caller's. See TestReview7SlowRedisLockFailsWithTheLoadersOwnDeadline.
func TestReview7FiveThousandKeyedClaimsOnAColdKeyThroughLostReplies(t *testing.T) {
	redistest.Require(t)
	const claims, limit = 5000, 3000
	rig := newResendRig(t, defaultClientCaches[0].cache)
	db := newQuotaDB()
	db.put("hot", limit, 0)
	db.loadDelay = 100 * time.Millisecond
	listener := &countingListener{}
	var dos atomic.Int64
	add := newAdd(backend{cache: rig.cache}, db, func(c *andromeda.AddQuotaUsageConfig) {
		c.GetQuotaUsageConfig = andromeda.GetQuotaUsageConfig{LockIn: 500 * time.Millisecond}
		c.Option.Listener = listener
	})
	rig.proxy.SetDropRate(dropRate)
	var admitted, refused, retries atomic.Int64
	kinds := map[string]int{}
	var mu sync.Mutex
	var failed []error
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < claims; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := &andromeda.QuotaUsageRequest{QuotaID: "hot", Usage: 1, IdempotencyKey: fmt.Sprint("claim-", i)}
			<-start
			for try := 0; ; try++ {
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				dos.Add(1)
				_, err := add.Do(ctx, r)
				cancel()
				switch {
				case err == nil:
					admitted.Add(1)
				case errors.Is(err, andromeda.ErrQuotaLimitExceeded):
					refused.Add(1)
				case retryable(err) && try < 50:
					retries.Add(1)
					mu.Lock()
					switch {
					case errors.Is(err, andromeda.ErrUnknownOutcome):
						kinds["unknown"]++
					case errors.Is(err, andromeda.ErrRedisUnavailable):
						kinds["unavailable"]++
					default:
						kinds["loader busy"]++
					}
					mu.Unlock()
					time.Sleep(time.Millisecond)
					continue
				default:
					mu.Lock()
					failed = append(failed, err)
					mu.Unlock()
				}
				return
			}
		}(i)
	}
	began := time.Now()
	close(start)
	wg.Wait()
	rig.proxy.SetDropRate(0)
	usage := rig.usage(t, keyOf("hot"))
	t.Logf("admitted %d, refused %d, failed %d, app retries %d %v, loads %d, usage %d, in %v", admitted.Load(), refused.Load(),
		len(failed), retries.Load(), kinds, db.loads.Load(), usage, time.Since(began).Round(time.Millisecond))
	untyped := 0
	for _, err := range failed {
		if !r7WrapsASentinel(err) {
			untyped++
		}
	}
	if len(failed) > 0 {
		t.Logf("first failure: %v; %d of %d failures wrap none of the README's sentinels", failed[0], untyped, len(failed))
	}
	assert.Zero(t, untyped, "every error wraps a sentinel")
	assert.Empty(t, failed, "every claim admitted or refused once the application retried what the README says to retry")
	assert.Equal(t, int64(limit), admitted.Load())
	assert.Equal(t, admitted.Load(), usage, "usage == claims admitted")
	assert.Equal(t, dos.Load(), listener.successes.Load()+listener.errors.Load(), "one listener call per Do")
}
