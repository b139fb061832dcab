package andromeda_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lostReplyCache applies each change and then, while lose is positive, reports its
// outcome unknown, as when the connection breaks after Redis ran the script.
type lostReplyCache struct {
	andromeda.Cache
	lose  atomic.Int64
	calls atomic.Int64
}

var errLostReply = fmt.Errorf("%w: EOF", andromeda.ErrUnknownOutcome)

func (c *lostReplyCache) lost() bool { c.calls.Add(1); return c.lose.Add(-1) >= 0 }

func (c *lostReplyCache) RunScript(ctx context.Context, s *andromeda.Script, keys []string, args ...any) (any, error) {
	reply, err := c.Cache.RunScript(ctx, s, keys, args...)
	switch s.SHA1() {
	case addSHA, addBatchSHA, reduceSHA, holdSHA: // changes to one quota
		if err == nil && c.lost() {
			return nil, errLostReply
		}
	}
	return reply, err
}

func lostReplies(b backend, n int64) *lostReplyCache {
	c := &lostReplyCache{Cache: b.cache}
	c.lose.Store(n)
	return c
}

// Without a key, a lost reply is reported as such, once: the library cannot know, and
// must not guess by sending the change again. The listener hears the same.
func TestUnknownOutcomeWithoutKeyIsReported(t *testing.T) {
	b := miniredisBackend(t)
	cache := lostReplies(b, 1)
	listener := &countingListener{}
	var heard error
	add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: cache, GetQuotaLimit: constLimit(10), GetQuotaUsageKey: constKey("u"),
		Option: andromeda.AddUsageOption{Listener: andromeda.Listeners(listener, andromeda.ListenerFuncs{
			Error: func(_ context.Context, _ *andromeda.QuotaUsageRequest, err error) { heard = err },
		})}})
	_, err := add.Do(context.Background(), &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: 2})
	require.ErrorIs(t, err, andromeda.ErrUnknownOutcome)
	assert.ErrorIs(t, heard, andromeda.ErrUnknownOutcome)
	assert.Equal(t, int64(1), cache.calls.Load())
	assert.Equal(t, int64(2), b.get(t, "u"), "it was in fact applied, once")
}

// With a key, the library sends the change again until it learns the outcome: the
// record replays the first, so the usage counts it once.
func TestUnknownOutcomeWithKeyIsRetried(t *testing.T) {
	b := miniredisBackend(t)
	ctx := context.Background()
	req := &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: 2, IdempotencyKey: "order-1"}

	cache := lostReplies(b, andromeda.UnknownOutcomeAttempts-1)
	add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: cache, GetQuotaLimit: constLimit(10), GetQuotaUsageKey: constKey("u")})
	usage, err := add.Do(ctx, req)
	require.NoError(t, err)
	assert.Equal(t, int64(2), usage)
	assert.Equal(t, int64(andromeda.UnknownOutcomeAttempts), cache.calls.Load())

	cache.lose.Store(andromeda.UnknownOutcomeAttempts - 1)
	reduce := andromeda.ReduceQuotaUsage(andromeda.ReduceQuotaUsageConfig{Cache: cache, GetQuotaUsageKey: constKey("u")})
	usage, err = reduce.Do(ctx, req)
	require.NoError(t, err)
	assert.Equal(t, int64(0), usage)

	cache.lose.Store(andromeda.UnknownOutcomeAttempts - 1)
	holds := andromeda.NewQuotaHolds(andromeda.QuotaHoldsConfig{Cache: cache, Quota: andromeda.Quota{GetQuotaLimit: constLimit(10), GetQuotaUsageKey: constKey("h")}})
	usage, err = holds.Reserve.Do(ctx, req)
	require.NoError(t, err)
	assert.Equal(t, int64(2), usage)

	// Past the documented count, the caller hears it is still unknown.
	cache.lose.Store(andromeda.UnknownOutcomeAttempts)
	cache.calls.Store(0)
	_, err = add.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: 3, IdempotencyKey: "order-2"})
	require.ErrorIs(t, err, andromeda.ErrUnknownOutcome)
	assert.Equal(t, int64(andromeda.UnknownOutcomeAttempts), cache.calls.Load())
	assert.Equal(t, int64(3), b.get(t, "u"), "applied once")
	_, err = add.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: 3, IdempotencyKey: "order-2"})
	require.NoError(t, err, "the caller's own retry learns the outcome")
	assert.Equal(t, int64(3), b.get(t, "u"), "still once")
}

// An undo whose outcome is unknown says so: the change may still be counted.
func TestUndoWithUnknownOutcomeSaysSo(t *testing.T) {
	b := miniredisBackend(t)
	cache := lostReplies(b, 0)
	errNext := errors.New("insert failed")
	add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: cache, GetQuotaLimit: constLimit(10), GetQuotaUsageKey: constKey("u"),
		Next: andromeda.UpdateQuotaUsageFunc(func(context.Context, *andromeda.QuotaUsageRequest) (int64, error) {
			cache.lose.Store(1) // the undo's reply is lost
			return 0, errNext
		})})
	_, err := add.Do(context.Background(), &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: 2})
	require.ErrorIs(t, err, errNext)
	require.ErrorIs(t, err, andromeda.ErrUnknownOutcome)
	assert.Contains(t, err.Error(), "unknown outcome, so it may still be counted")
}

// Every add of a coalesced batch whose reply was lost hears ErrUnknownOutcome, and so
// does a caller that gave up waiting after its batch was sent.
func TestCoalescedBatchWithUnknownOutcome(t *testing.T) {
	b := miniredisBackend(t)
	cache := lostReplies(b, 1)
	rec := &recordingCache{Cache: cache, entered: make(chan int, 1), release: make(chan struct{})}
	add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: rec, GetQuotaLimit: constLimit(100), GetQuotaUsageKey: constKey("u"),
		Option: andromeda.AddUsageOption{Coalesce: true}})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	errs := make(chan error, 2)
	go func() {
		_, err := add.Do(context.Background(), &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: 1})
		errs <- err
	}()
	<-rec.entered // the first add's batch is on its way
	go func() { _, err := add.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: 1}); errs <- err }()
	// The second add queues; let the first batch go, and its reply get lost.
	time.Sleep(10 * time.Millisecond)
	rec.release <- struct{}{}
	assert.ErrorIs(t, <-errs, andromeda.ErrUnknownOutcome)
	<-rec.entered // the second add's batch is sent, by its caller, and held until its deadline
	err := <-errs
	require.ErrorIs(t, err, andromeda.ErrUnknownOutcome)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}
