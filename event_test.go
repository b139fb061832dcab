package andromeda_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ramadani/andromeda"
)

// eventRecorder is an EventListener that keeps the events it gets; OnSuccess and OnError
// must not be called, since Do gives an EventListener OnDone instead.
type eventRecorder struct {
	t      testing.TB
	mu     sync.Mutex
	events []andromeda.Event
}

func (r *eventRecorder) OnSuccess(context.Context, *andromeda.QuotaUsageRequest, int64) {
	r.t.Error("OnSuccess called on an EventListener")
}

func (r *eventRecorder) OnError(context.Context, *andromeda.QuotaUsageRequest, error) {
	r.t.Error("OnError called on an EventListener")
}

func (r *eventRecorder) OnDone(_ context.Context, ev andromeda.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

// take returns the one event recorded since the last take.
func (r *eventRecorder) take(t *testing.T) andromeda.Event {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	require.Len(t, r.events, 1, "one event per Do")
	ev := r.events[0]
	r.events = nil
	return ev
}

// An add that loads its usage, then one refused, then a reduce: each Do gives one event
// that says what it did, to what key, and what happened inside it.
func TestEventPerDo(t *testing.T) {
	b := miniredisBackend(t)
	db := newQuotaDB()
	db.put("v1", 10, 3)
	events := &eventRecorder{t: t}
	add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) { c.Option.Listener = events })
	reduce := newReduce(b, db, func(c *andromeda.ReduceQuotaUsageConfig) { c.Option.Listener = events })
	ctx := context.Background()

	_, err := add.Do(ctx, req("v1", 2))
	require.NoError(t, err)
	ev := events.take(t)
	assert.Equal(t, andromeda.OpAdd, ev.Op)
	assert.Equal(t, "v1", ev.QuotaID)
	assert.Equal(t, keyOf("v1"), ev.Key)
	assert.Equal(t, int64(2), ev.Amount)
	assert.Equal(t, int64(5), ev.Usage)
	assert.Equal(t, int64(10), ev.Limit)
	assert.Equal(t, "ok", ev.Outcome())
	assert.Empty(t, ev.Cause())
	assert.Positive(t, ev.Duration)
	assert.Equal(t, andromeda.Counts{Loads: 1, MissingKeys: 1}, ev.Counts)

	_, err = add.Do(ctx, req("v1", 6))
	require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded)
	ev = events.take(t)
	assert.Equal(t, "refused", ev.Outcome())
	assert.Equal(t, "quota_limit_exceeded", ev.Cause())
	assert.Equal(t, keyOf("v1"), ev.Key)
	assert.Equal(t, int64(5), ev.Usage, "the usage found")
	assert.Equal(t, int64(10), ev.Limit)
	assert.Same(t, err, ev.Err)
	assert.Zero(t, ev.Counts, "warm: nothing loaded")

	_, err = reduce.Do(ctx, req("v1", 9))
	require.ErrorIs(t, err, andromeda.ErrInvalidMinQuotaUsage)
	ev = events.take(t)
	assert.Equal(t, andromeda.OpReduce, ev.Op)
	assert.Equal(t, "refused", ev.Outcome())
	assert.Equal(t, "below_zero", ev.Cause())

	_, err = add.Do(ctx, nil)
	require.ErrorIs(t, err, andromeda.ErrInvalidRequest)
	ev = events.take(t)
	assert.Equal(t, "error", ev.Outcome())
	assert.Equal(t, "invalid_request", ev.Cause())
	assert.Nil(t, ev.Request)
}

// A Do that waits for another process's load counts its waits.
func TestEventCountsLockWaits(t *testing.T) {
	b := miniredisBackend(t)
	db := newQuotaDB()
	db.put("v1", 10, 3)
	events := &eventRecorder{t: t}
	add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) { c.Option.Listener = events })
	lockKey := keyOf("v1") + ":andromeda-load-lock"
	b.set(t, lockKey, "another process")
	go func() {
		time.Sleep(30 * time.Millisecond)
		b.client.Del(context.Background(), lockKey)
	}()

	usage, err := add.Do(context.Background(), req("v1", 1))
	require.NoError(t, err)
	assert.Equal(t, int64(4), usage)
	ev := events.take(t)
	assert.GreaterOrEqual(t, ev.LockWaits, 1)
	assert.Equal(t, 1, ev.Loads, "loaded here once the lock was free")
	// The waits try the shared load again, not the change: found missing once, before them.
	assert.Equal(t, 1, ev.MissingKeys, "found missing once")
}

// Lost replies are counted; a keyed change sent again learns its outcome, which is not
// called a replay since the record may be its own.
func TestEventCountsUnknownOutcomes(t *testing.T) {
	b := miniredisBackend(t)
	events := &eventRecorder{t: t}
	cache := lostReplies(b, 2)
	add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: cache, GetQuotaLimit: constLimit(10),
		GetQuotaUsageKey: constKey("u"), Option: andromeda.AddUsageOption{Listener: events}})
	ctx := context.Background()
	keyed := &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: 2, IdempotencyKey: "order-1"}

	_, err := add.Do(ctx, keyed)
	require.NoError(t, err)
	ev := events.take(t)
	assert.Equal(t, "ok", ev.Outcome())
	assert.Equal(t, 2, ev.UnknownOutcomes)
	assert.False(t, ev.Replayed)

	_, err = add.Do(ctx, keyed)
	require.NoError(t, err)
	ev = events.take(t)
	assert.True(t, ev.Replayed, "the record of the Do before")
	assert.Zero(t, ev.UnknownOutcomes)

	cache.lose.Store(1)
	_, err = add.Do(ctx, req("q", 1))
	require.ErrorIs(t, err, andromeda.ErrUnknownOutcome)
	ev = events.take(t)
	assert.Equal(t, "unknown", ev.Outcome())
	assert.Equal(t, "unknown_outcome", ev.Cause())
	assert.Equal(t, 1, ev.UnknownOutcomes)
	assert.Equal(t, "u", ev.Key)
}

// When Next fails, the Do's event describes its own key (Next's error is its Err), and
// Next's own Do gives its own event.
func TestEventWithNextFailing(t *testing.T) {
	b := miniredisBackend(t)
	outer, inner := &eventRecorder{t: t}, &eventRecorder{t: t}
	next := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: b.cache, GetQuotaLimit: constLimit(1),
		GetQuotaUsageKey: constKey("second"), Option: andromeda.AddUsageOption{Listener: inner}})
	add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: b.cache, GetQuotaLimit: constLimit(10),
		GetQuotaUsageKey: constKey("first"), Next: next, Option: andromeda.AddUsageOption{Listener: outer}})

	_, err := add.Do(context.Background(), req("q", 2))
	require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded)
	ev := outer.take(t)
	assert.Equal(t, "first", ev.Key)
	assert.Equal(t, int64(10), ev.Limit)
	assert.Zero(t, ev.Usage, "undone: no usage to report")
	assert.Equal(t, "refused", ev.Outcome())
	nextEv := inner.take(t)
	assert.Equal(t, "second", nextEv.Key)
	assert.Equal(t, int64(1), nextEv.Limit)
	assert.Equal(t, int64(0), b.get(t, "first"), "undone")
}

// Multi-quota changes and holds name their operations.
func TestEventOperations(t *testing.T) {
	b := miniredisBackend(t)
	events := &eventRecorder{t: t}
	ctx := context.Background()
	multi := andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache,
		Quotas: []andromeda.Quota{{GetQuotaLimit: constLimit(5), GetQuotaUsageKey: constKey("{m}a")},
			{GetQuotaLimit: constLimit(5), GetQuotaUsageKey: constKey("{m}b")}},
		Option: andromeda.MultiQuotaUsageOption{Listener: events}})
	_, err := multi.Do(ctx, req("q", 1))
	require.NoError(t, err)
	ev := events.take(t)
	assert.Equal(t, andromeda.OpMultiAdd, ev.Op)
	assert.Equal(t, "{m}a", ev.Key)

	holds := andromeda.NewQuotaHolds(andromeda.QuotaHoldsConfig{Cache: b.cache,
		Quota: andromeda.Quota{GetQuotaLimit: constLimit(5), GetQuotaUsageKey: constKey("h")}, Listener: events})
	_, err = holds.Reserve.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: 2, IdempotencyKey: "cart-1"})
	require.NoError(t, err)
	assert.Equal(t, andromeda.OpReserve, events.take(t).Op)
	_, err = holds.Commit.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "q", IdempotencyKey: "cart-1"})
	require.NoError(t, err)
	assert.Equal(t, andromeda.OpCommit, events.take(t).Op)
}

// Listeners gives each listener what it asks for, once per Do, and chains OnStart: the
// Do runs with the context OnStart returned, and OnDone gets it too.
func TestListenersFanOutEventsAndStarts(t *testing.T) {
	b := miniredisBackend(t)
	plain, events := &countingListener{}, &eventRecorder{t: t}
	type mark struct{}
	var sawInLimit, sawInDone any
	starter := startFunc(func(ctx context.Context, op string, _ *andromeda.QuotaUsageRequest) context.Context {
		return context.WithValue(ctx, mark{}, op)
	})
	done := doneFunc(func(ctx context.Context, _ andromeda.Event) { sawInDone = ctx.Value(mark{}) })
	limit := andromeda.GetQuotaFunc(func(ctx context.Context, _ *andromeda.QuotaRequest) (int64, error) {
		sawInLimit = ctx.Value(mark{})
		return 10, nil
	})
	add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: b.cache, GetQuotaLimit: limit, GetQuotaUsageKey: constKey("u"),
		Option: andromeda.AddUsageOption{Listener: andromeda.Listeners(plain, starter, events, done)}})

	_, err := add.Do(context.Background(), req("q", 3))
	require.NoError(t, err)
	assert.Equal(t, int64(1), plain.successes.Load())
	assert.Equal(t, int64(3), plain.lastUsage.Load())
	assert.Equal(t, int64(3), events.take(t).Usage)
	assert.Equal(t, andromeda.OpAdd, sawInLimit, "the Do ran with OnStart's context")
	assert.Equal(t, andromeda.OpAdd, sawInDone)

	_, err = add.Do(context.Background(), req("q", 30))
	require.Error(t, err)
	assert.Equal(t, int64(1), plain.errors.Load())
	assert.True(t, errors.Is(events.take(t).Err, andromeda.ErrQuotaLimitExceeded))
}

// startFunc is a StartListener (and a listener that ignores outcomes).
type startFunc func(ctx context.Context, op string, req *andromeda.QuotaUsageRequest) context.Context

func (f startFunc) OnStart(ctx context.Context, op string, req *andromeda.QuotaUsageRequest) context.Context {
	return f(ctx, op, req)
}
func (startFunc) OnSuccess(context.Context, *andromeda.QuotaUsageRequest, int64) {}
func (startFunc) OnError(context.Context, *andromeda.QuotaUsageRequest, error)   {}

// doneFunc is an EventListener.
type doneFunc func(ctx context.Context, ev andromeda.Event)

func (f doneFunc) OnDone(ctx context.Context, ev andromeda.Event)               { f(ctx, ev) }
func (doneFunc) OnSuccess(context.Context, *andromeda.QuotaUsageRequest, int64) {}
func (doneFunc) OnError(context.Context, *andromeda.QuotaUsageRequest, error)   {}

// An unobserved Next's loads and key are its own, not those of the observed Do that ran it.
func TestEventLeavesOutUnobservedNext(t *testing.T) {
	b := miniredisBackend(t)
	db := newQuotaDB()
	db.put("second", 10, 4)
	events := &eventRecorder{t: t}
	next := newAdd(b, db, nil)
	add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: b.cache, GetQuotaLimit: constLimit(10),
		GetQuotaUsageKey: constKey("first"), Next: andromeda.UpdateQuotaUsageFunc(
			func(ctx context.Context, _ *andromeda.QuotaUsageRequest) (int64, error) {
				return next.Do(ctx, req("second", 1))
			}),
		Option: andromeda.AddUsageOption{Listener: events}})

	_, err := add.Do(context.Background(), req("q", 1))
	require.NoError(t, err)
	assert.Equal(t, int64(5), b.get(t, keyOf("second")), "Next loaded its usage and added")
	ev := events.take(t)
	assert.Equal(t, "first", ev.Key)
	assert.Zero(t, ev.Counts)
}

// The sends the library repeated because Redis certainly did not run them are counted.
func TestEventCountsNotRunRetries(t *testing.T) {
	b := miniredisBackend(t)
	events := &eventRecorder{t: t}
	add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: &notRunCache{Cache: b.cache}, GetQuotaLimit: constLimit(10),
		GetQuotaUsageKey: constKey("u"), Option: andromeda.AddUsageOption{Listener: events}})
	usage, err := add.Do(context.Background(), req("q", 1))
	require.NoError(t, err)
	assert.Equal(t, int64(1), usage)
	assert.Equal(t, 2, events.take(t).NotRunRetries)
}

// notRunCache answers its first two scripts as never sent, then passes them on.
type notRunCache struct {
	andromeda.Cache
	refused int
}

func (c *notRunCache) RunScript(ctx context.Context, s *andromeda.Script, keys []string, args ...any) (any, error) {
	if c.refused < 2 {
		c.refused++
		return nil, fmt.Errorf("%w: dial tcp: connection refused", andromeda.ErrNotSent)
	}
	return c.Cache.RunScript(ctx, s, keys, args...)
}
