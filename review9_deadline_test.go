package andromeda_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/redisv9"
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// "A change always ends at its context's deadline (with ErrUnknownOutcome when it was cut
// short): go-redis v9 stops a call at the deadline only with ContextTimeoutEnabled: true,
// so on a client without it the v9 adapter bounds each change itself", and DESIGN 7:
// "Every Redis call and every wait honours the context". A default-options v9 client
// (ReadTimeout 3 s, ContextTimeoutEnabled false), Redis frozen (SIGSTOP), a 200 ms
// deadline: every entry point must return by about then, not after the 3 s read timeout.
func TestReview9FrozenRedisEveryCallEndsAtItsDeadline(t *testing.T) {
	server := redistest.Standalone(t)
	client := redis.NewClient(&redis.Options{Addr: server.Addr}) // default options
	defer client.Close()
	cache := redisv9.New(client)
	ctx := context.Background()
	limit := constLimit(100)
	quota := andromeda.Quota{GetQuotaLimit: limit, GetQuotaUsageKey: constKey("{fz}:usage")}
	add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: cache, GetQuotaLimit: limit, GetQuotaUsageKey: constKey("{fz}:usage"),
		Option: andromeda.AddUsageOption{CacheLimit: true}})
	coalesced := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: cache, GetQuotaLimit: limit, GetQuotaUsageKey: constKey("{fz}:usage"),
		Option: andromeda.AddUsageOption{Coalesce: true}})
	reduce := andromeda.ReduceQuotaUsage(andromeda.ReduceQuotaUsageConfig{Cache: cache, GetQuotaUsageKey: constKey("{fz}:usage")})
	multi := andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: cache, Quotas: []andromeda.Quota{quota}})
	holds := andromeda.NewQuotaHolds(andromeda.QuotaHoldsConfig{Cache: cache, Quota: quota})
	// Warm everything up: keys, the limit in Redis, the scripts, pooled connections.
	for i := 0; i < 3; i++ {
		_, err := add.Do(ctx, req("q", 1))
		require.NoError(t, err)
		_, err = multi.Do(ctx, req("q", 1))
		require.NoError(t, err)
		_, err = reduce.Do(ctx, req("q", 1))
		require.NoError(t, err)
	}
	_, err := holds.Reserve.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: 1, IdempotencyKey: "h"})
	require.NoError(t, err)
	_, _, err = andromeda.ReleaseExpiredHolds(ctx, cache, "{fz}:usage")
	require.NoError(t, err)
	_, err = andromeda.ReadCachedUsages(ctx, cache, constKey("{fz}:usage"), []*andromeda.QuotaRequest{{QuotaID: "q"}})
	require.NoError(t, err)

	keyed := &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: 1, IdempotencyKey: "k"}
	calls := []struct {
		name string
		do   func(ctx context.Context) error
	}{
		{"add", func(ctx context.Context) error { _, err := add.Do(ctx, req("q", 1)); return err }},
		{"keyed add", func(ctx context.Context) error { _, err := add.Do(ctx, keyed); return err }},
		{"coalesced add", func(ctx context.Context) error { _, err := coalesced.Do(ctx, req("q", 1)); return err }},
		{"reduce", func(ctx context.Context) error { _, err := reduce.Do(ctx, req("q", 1)); return err }},
		{"several quotas", func(ctx context.Context) error { _, err := multi.Do(ctx, req("q", 1)); return err }},
		{"commit", func(ctx context.Context) error {
			_, err := holds.Commit.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: 1, IdempotencyKey: "h"})
			return err
		}},
		{"ReadCachedUsages", func(ctx context.Context) error {
			_, err := andromeda.ReadCachedUsages(ctx, cache, constKey("{fz}:usage"), []*andromeda.QuotaRequest{{QuotaID: "q"}})
			return err
		}},
		{"ForgetUsage", func(ctx context.Context) error {
			_, _, err := andromeda.ForgetUsage(ctx, cache, "{fz}:other")
			return err
		}},
		{"SetQuotaLimit", func(ctx context.Context) error { return andromeda.SetQuotaLimit(ctx, cache, "{fz}:usage", 100, 0) }},
		{"ReleaseExpiredHolds", func(ctx context.Context) error {
			_, _, err := andromeda.ReleaseExpiredHolds(ctx, cache, "{fz}:usage")
			return err
		}},
	}
	require.NoError(t, server.Pause())
	defer server.Resume() //nolint:errcheck
	for _, c := range calls {
		dctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		started := time.Now()
		err := c.do(dctx)
		elapsed := time.Since(started)
		cancel()
		t.Logf("%-20s %6v  %v", c.name, elapsed.Round(time.Millisecond), err)
		assert.Error(t, err, c.name)
		assert.Less(t, elapsed, 700*time.Millisecond, "%s ends at its deadline", c.name)
	}
	require.NoError(t, server.Resume())
}

// The same for the loader: the usage is missing, the loader took its lock and loads; Redis
// freezes while it does. The Do's 300 ms deadline must still bound the fenced write (and
// whatever follows), not the client's 3 s read timeout.
func TestReview9FrozenRedisDuringALoadEndsAtTheDeadline(t *testing.T) {
	server := redistest.Standalone(t)
	client := redis.NewClient(&redis.Options{Addr: server.Addr}) // default options
	defer client.Close()
	cache := redisv9.New(client)
	var froze atomic.Bool
	add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: cache, GetQuotaLimit: constLimit(100), GetQuotaUsageKey: constKey("{fl}:usage"),
		GetQuotaUsage: andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) {
			if froze.CompareAndSwap(false, true) {
				require.NoError(t, server.Pause())
			}
			return 5, nil
		})})
	// Warm the scripts and the pool on another key.
	_, err := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: cache, GetQuotaLimit: constLimit(100), GetQuotaUsageKey: constKey("{fl}:warm")}).Do(context.Background(), req("w", 1))
	require.NoError(t, err)
	defer server.Resume() //nolint:errcheck
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	started := time.Now()
	_, err = add.Do(ctx, req("q", 1))
	elapsed := time.Since(started)
	require.NoError(t, server.Resume())
	t.Logf("load frozen: %v after %v", err, elapsed.Round(time.Millisecond))
	assert.Error(t, err)
	assert.Less(t, elapsed, 800*time.Millisecond, "the Do ends at its deadline")
}

// "If Next fails, the change is undone, even when the caller's context has ended" and "A
// change always ends at its context's deadline". Redis freezes while Next runs, and Next
// fails: the undo cannot reach Redis. How long does the caller's Do, whose deadline is
// 300 ms, take to return, on a default-options v9 client?
func TestReview9UndoAgainstAFrozenRedisAndTheCallersDeadline(t *testing.T) {
	skipLongInShort(t)
	server := redistest.Standalone(t)
	client := redis.NewClient(&redis.Options{Addr: server.Addr}) // default options
	defer client.Close()
	cache := redisv9.New(client)
	var froze atomic.Bool
	add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: cache, GetQuotaLimit: constLimit(100), GetQuotaUsageKey: constKey("{fu}:usage"),
		Next: andromeda.UpdateQuotaUsageFunc(func(context.Context, *andromeda.QuotaUsageRequest) (int64, error) {
			if froze.Load() {
				require.NoError(t, server.Pause())
				return 0, assert.AnError
			}
			return 0, nil
		})})
	_, err := add.Do(context.Background(), req("q", 1)) // warm
	require.NoError(t, err)
	froze.Store(true)
	defer server.Resume() //nolint:errcheck
	for _, keyed := range []bool{false, true} {
		r := req("q", 1)
		if keyed {
			r.IdempotencyKey = "claim-1"
		}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		started := time.Now()
		_, err = add.Do(ctx, r)
		elapsed := time.Since(started)
		cancel()
		t.Logf("keyed %v: %v after %v", keyed, err, elapsed.Round(time.Millisecond))
		assert.ErrorIs(t, err, andromeda.ErrUndoFailed)
		for _, nothing := range []error{andromeda.ErrRedisUnavailable, andromeda.ErrQuotaLimitExceeded} {
			assert.NotErrorIs(t, err, nothing, "an undo that failed wraps no sentinel that says nothing changed")
		}
		assert.Less(t, elapsed, 2*time.Second, "a Do whose deadline is 300 ms")
		require.NoError(t, server.Resume())
	}
}

// The same on a default rueidis client, which "honours every context's deadline by
// itself": the undo runs without one.
func TestReview9UndoAgainstAFrozenRedisRueidis(t *testing.T) {
	skipLongInShort(t)
	server := redistest.Standalone(t)
	cache := defaultClientCaches[2].cache(t, server.Addr)
	var froze atomic.Bool
	add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: cache, GetQuotaLimit: constLimit(100), GetQuotaUsageKey: constKey("{fr}:usage"),
		Next: andromeda.UpdateQuotaUsageFunc(func(context.Context, *andromeda.QuotaUsageRequest) (int64, error) {
			if froze.Load() {
				require.NoError(t, server.Pause())
				return 0, assert.AnError
			}
			return 0, nil
		})})
	_, err := add.Do(context.Background(), req("q", 1)) // warm
	require.NoError(t, err)
	froze.Store(true)
	defer server.Resume() //nolint:errcheck
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	started := time.Now()
	go func() { _, err := add.Do(ctx, req("q", 1)); done <- err }()
	select {
	case err = <-done:
	case <-time.After(15 * time.Second):
		t.Errorf("Do with a 300 ms deadline still running after 15 s; resuming Redis")
		require.NoError(t, server.Resume())
		err = <-done
	}
	elapsed := time.Since(started)
	t.Logf("rueidis: %v after %v", err, elapsed.Round(time.Millisecond))
	assert.Less(t, elapsed, 2*time.Second, "a Do whose deadline is 300 ms")
}
