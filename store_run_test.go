package andromeda

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// replyErr is an error reply from Redis, as go-redis v8 and v9 type them.
type replyErr string

func (e replyErr) Error() string { return string(e) }
func (replyErr) RedisError()     {}

// scriptedClient answers RunScript with errs, one per call, then with an applied reduce.
type scriptedClient struct {
	Cache
	errs      []error
	calls     int
	refreshed int
	plain     bool // a client with no topology to relearn, unlike a cluster client
}

func (c *scriptedClient) RunScript(context.Context, *Script, []string, ...any) (any, error) {
	c.calls++
	if len(c.errs) > 0 {
		err := c.errs[0]
		c.errs = c.errs[1:]
		return nil, err
	}
	return []any{int64(0), int64(5)}, nil
}

func (c *scriptedClient) RefreshSlots(context.Context) bool {
	c.refreshed++
	return !c.plain
}

func repeat(err error, n int) []error {
	errs := make([]error, n)
	for i := range errs {
		errs[i] = err
	}
	return errs
}

func reduce(ctx context.Context, c *scriptedClient) error {
	_, err := newStore(c).ReduceUsage(ctx, reduceUsageArgs{Key: "k", Amount: 1})
	return err
}

func TestNotRunErrorsAreRetried(t *testing.T) {
	for _, err := range []error{
		replyErr("TRYAGAIN Multiple keys request during rehashing of slot"),
		replyErr("MOVED 3999 127.0.0.1:6381"),
		replyErr("ASK 3999 127.0.0.1:6381"),
		replyErr("CLUSTERDOWN The cluster is down"),
		replyErr("LOADING Redis is loading the dataset in memory"),
		replyErr("READONLY You can't write against a read only replica."),
		replyErr("MASTERDOWN Link with MASTER is down"),
		notSent(&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}),
	} {
		t.Run(err.Error(), func(t *testing.T) {
			t.Parallel()
			c := &scriptedClient{errs: repeat(err, 2)}
			require.NoError(t, reduce(context.Background(), c))
			assert.Equal(t, 3, c.calls)
			assert.Equal(t, 2, c.refreshed, "the client relearns the topology after each")

			c = &scriptedClient{errs: repeat(err, 100)}
			got := reduce(context.Background(), c)
			require.ErrorIs(t, got, ErrRedisUnavailable)
			assert.NotErrorIs(t, got, ErrUnknownOutcome)
			assert.ErrorIs(t, got, err, "the raw error is kept")
			assert.Contains(t, got.Error(), err.Error())
			assert.Equal(t, 6, c.calls, "bounded")

			// A plain client gets a third of a second: 10+20+40+80 ms of waits, then it
			// stops short of a sixth try. Fewer on a machine too slow to sleep on time.
			c = &scriptedClient{errs: repeat(err, 100), plain: true}
			require.ErrorIs(t, reduce(context.Background(), c), ErrRedisUnavailable)
			assert.LessOrEqual(t, c.calls, 5, "bounded by time")
			assert.GreaterOrEqual(t, c.calls, 2)
		})
	}
}

func TestMaybeRunErrorsAreUnknownAndNotResent(t *testing.T) {
	for _, err := range []error{
		io.EOF,
		&net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")},
		context.DeadlineExceeded, // the caller's deadline passed while waiting for the reply
		fmt.Errorf("%w: applied on the primary, but only 0 of 1 replicas acknowledged it", ErrUnknownOutcome),
	} {
		t.Run(err.Error(), func(t *testing.T) {
			c := &scriptedClient{errs: []error{err}}
			got := reduce(context.Background(), c)
			require.ErrorIs(t, got, ErrUnknownOutcome)
			assert.ErrorIs(t, got, err)
			assert.NotErrorIs(t, got, ErrRedisUnavailable)
			assert.Equal(t, 1, c.calls, "never sent again")
		})
	}
}

func TestRedisErrorAnswersAreNotResent(t *testing.T) {
	err := replyErr("ERR Error running script (call to f_0123): @user_script:1: oops")
	c := &scriptedClient{errs: []error{err}}
	got := reduce(context.Background(), c)
	assert.ErrorIs(t, got, err)
	assert.ErrorIs(t, got, ErrUnknownOutcome, "a script that failed part way keeps what it wrote")
	assert.NotErrorIs(t, got, ErrRedisUnavailable)
	assert.Equal(t, 1, c.calls, "not sent again")

	c = &scriptedClient{errs: []error{replyErr("CROSSSLOT Keys in request don't hash to the same slot")}}
	assert.ErrorIs(t, reduce(context.Background(), c), ErrCrossSlot)
}

func TestNotRunRetriesStopAtTheContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Millisecond)
	defer cancel()
	c := &scriptedClient{errs: repeat(replyErr("CLUSTERDOWN The cluster is down"), 100)}
	got := reduce(ctx, c)
	require.ErrorIs(t, got, ErrRedisUnavailable)
	assert.ErrorIs(t, got, context.DeadlineExceeded)
	assert.Less(t, c.calls, 6)

	// A context that ended before anything was sent is just that, not an outage.
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	c = &scriptedClient{errs: []error{notSent(context.Canceled)}}
	got = reduce(ctx, c)
	assert.ErrorIs(t, got, context.Canceled)
	assert.NotErrorIs(t, got, ErrRedisUnavailable)
	assert.NotErrorIs(t, got, ErrUnknownOutcome)
}

// notSent wraps err as a transport marks an error from before anything was written.
func notSent(err error) error { return fmt.Errorf("%w: %w", ErrNotSent, err) }
