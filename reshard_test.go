package andromeda_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sentinels are every error a caller may be shown, by errors.Is.
var sentinels = []error{
	andromeda.ErrQuotaLimitExceeded, andromeda.ErrInvalidMinQuotaUsage, andromeda.ErrQuotaNotFound,
	andromeda.ErrLockedKey, andromeda.ErrMaxRetryExceeded, andromeda.ErrInvalidRequest,
	andromeda.ErrInvalidCachedUsage, andromeda.ErrHoldExpired, andromeda.ErrHoldNotFound,
	andromeda.ErrHoldCommitted, andromeda.ErrHoldCancelled, andromeda.ErrUnknownOutcome,
	andromeda.ErrRedisUnavailable, andromeda.ErrCrossSlot,
}

// The hot key's slot moves to another master and back, twice, key batch by key batch,
// while keyed adds (some repeated), plain adds and holds (reserve, then commit or cancel)
// run on it: clients meet ASK, TRYAGAIN and MOVED. The usage ends exactly as the
// acknowledged requests say, and every error a caller sees wraps one of andromeda's
// sentinels: no raw server text.
func TestReshardingMidSale(t *testing.T) {
	requireFailoverRun(t)
	c, err := redistest.StartClusterWith(redistest.ClusterOptions{Masters: 3})
	require.NoError(t, err)
	t.Cleanup(c.Stop)
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), PoolSize: 32})
	t.Cleanup(func() { client.Close() })
	b := backend{name: "resharded", real: true, client: client, cache: saleCache(client, false)}
	ctx := context.Background()
	db := newQuotaDB()
	db.put("hot", andromeda.MaxAmount, 0)
	b.set(t, keyOf("hot"), 0)

	r := &reshardRun{
		add: newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) {
			c.Option.IdempotencyRetention = 10 * time.Minute
		}),
		holds:   newHolds(b, db, 10*time.Minute),
		untyped: map[string]int{},
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(worker int) {
			defer wg.Done()
			r.work(worker, stop)
		}(w)
	}

	slot, err := c.SlotOf(keyOf("hot"))
	require.NoError(t, err)
	owner, err := c.MasterOf(slot)
	require.NoError(t, err)
	var other *redistest.Server
	for _, m := range c.Masters() {
		if m != owner {
			other = m
			break
		}
	}
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	for round := 0; round < 2; round++ {
		for _, move := range [][2]*redistest.Server{{owner, other}, {other, owner}} {
			require.NoError(t, c.MigrateSlot(slot, move[0], move[1], 20, 2*time.Millisecond))
			time.Sleep(300 * time.Millisecond)
		}
	}
	migrations := time.Since(start)
	r.migrated.Store(true)
	close(stop)
	wg.Wait()

	usage, err := client.Get(ctx, keyOf("hot")).Int64()
	require.NoError(t, err)
	t.Logf("4 migrations of slot %d in %v: %d requests, %d errors (%d unknown outcome, %d not run), %d plain adds of unknown outcome; usage %d, expected %d",
		slot, migrations.Round(time.Millisecond), r.requests.Load(), r.errs.Load(), r.unknown.Load(), r.unavailable.Load(),
		r.ambiguous.Load(), usage, r.expected.Load())
	r.mu.Lock()
	defer r.mu.Unlock()
	assert.Empty(t, r.untyped, "errors that wrap no andromeda sentinel")
	assert.Zero(t, r.gaveUp.Load(), "keyed requests still failing after retries")
	require.Zero(t, r.ambiguous.Load(), "plain adds of unknown outcome make the total inexact")
	assert.Equal(t, r.expected.Load(), usage, "usage is what the acknowledged requests say")
}

type reshardRun struct {
	add   andromeda.UpdateQuotaUsage
	holds andromeda.QuotaHolds

	expected                             atomic.Int64 // usage the acknowledged requests add up to
	requests, errs, unknown, unavailable atomic.Int64
	ambiguous                            atomic.Int64 // plain adds whose outcome is unknown
	gaveUp                               atomic.Int64
	migrated                             atomic.Bool // the slot is home and stable

	mu      sync.Mutex
	untyped map[string]int
}

// do runs one request and checks its error. A keyed request is idempotent, so a service
// repeats it until it gets an answer: do does that for as long as the slot is moving (a
// change's keys, usage and hold buckets and records, all in the slot, are refused with
// TRYAGAIN until they have all moved), and a few times after.
func (r *reshardRun) do(u andromeda.UpdateQuotaUsage, req *andromeda.QuotaUsageRequest) error {
	for attemptsAfterMigration := 0; ; {
		if r.migrated.Load() {
			attemptsAfterMigration++
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err := u.Do(ctx, req)
		cancel()
		r.requests.Add(1)
		if err == nil {
			return nil
		}
		r.errs.Add(1)
		switch {
		case errors.Is(err, andromeda.ErrUnknownOutcome):
			r.unknown.Add(1)
		case errors.Is(err, andromeda.ErrRedisUnavailable):
			r.unavailable.Add(1)
		}
		if !isAny(err, sentinels) {
			r.mu.Lock()
			r.untyped[errorShape(err)]++
			r.mu.Unlock()
		}
		if req.IdempotencyKey == "" || attemptsAfterMigration > 10 {
			if req.IdempotencyKey != "" {
				r.gaveUp.Add(1)
			}
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *reshardRun) work(worker int, stop <-chan struct{}) {
	rng := rand.New(rand.NewSource(int64(worker)))
	var acked []string
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		default:
		}
		id := fmt.Sprintf("w%d-%d", worker, n)
		switch p := rng.Intn(100); {
		case p < 10 && len(acked) > 0: // a repeat changes nothing
			_ = r.do(r.add, idem("hot", 1, acked[rng.Intn(len(acked))]))
		case p < 45:
			if r.do(r.add, idem("hot", 1, id)) == nil {
				r.expected.Add(1)
				acked = append(acked, id)
			}
		case p < 65:
			err := r.do(r.add, req("hot", 1))
			switch {
			case err == nil:
				r.expected.Add(1)
			case errors.Is(err, andromeda.ErrUnknownOutcome):
				r.ambiguous.Add(1)
			}
		default: // a hold, then commit or cancel
			if r.do(r.holds.Reserve, idem("hot", 2, id)) != nil {
				continue
			}
			r.expected.Add(2)
			if rng.Intn(10) < 7 {
				_ = r.do(r.holds.Commit, idem("hot", 0, id))
			} else if r.do(r.holds.Cancel, idem("hot", 0, id)) == nil {
				r.expected.Add(-2)
			}
		}
	}
}
