package andromeda_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/redisv9"
	"github.com/ramadani/andromeda/internal/faultproxy"
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dropOnce passes scripts to a Cache whose connection goes through a faultproxy; when
// armed, the next script's reply is dropped after Redis ran it (the proxy cuts the
// connection), and meanwhile runs `between` (another client's change).
type dropOnce struct {
	andromeda.Cache
	proxy   *faultproxy.Proxy
	armed   atomic.Bool
	between func()
}

func (d *dropOnce) RunScript(ctx context.Context, s *andromeda.Script, keys []string, args ...any) (any, error) {
	if !d.armed.CompareAndSwap(true, false) {
		return d.Cache.RunScript(ctx, s, keys, args...)
	}
	d.proxy.DropReplies(true)
	reply, err := d.Cache.RunScript(ctx, s, keys, args...)
	d.proxy.DropReplies(false)
	d.between()
	return reply, err
}

// The same oversell as TestReview3ReplayedCompensationPutBackOversells within ONE Do, no
// repeat by the client: the compensating reduce's reply is lost after Redis took Alice's
// add back; Bob takes the freed unit; the library resends the reduce (same attempt), which
// replays "applied" with the usage of now. Next fails: the put-back's bound is Bob's usage
// + 1, so Alice's add is applied again on top of Bob's: usage 2 on a limit of 1.
// README Guarantee 1: "Usage is never counted above the limit"; Guarantee 4: a refused
// put-back leaves the reduce applied, and Do fails with ErrUndoFailed.
func TestReview3LostReplyCompensationPutBackOversells(t *testing.T) {
	direct, proxied, proxy := lossyRig(t)

	ctx := context.Background()
	db := newQuotaDB()
	db.put("lrc", 1, 0)
	bobAdd := newAdd(direct, db, nil)
	wrapped := &dropOnce{Cache: redisv9.New(proxied), proxy: proxy}
	wrapped.between = func() {
		_, err := bobAdd.Do(ctx, req("lrc", 1)) // Bob takes the unit Alice's cancel freed
		assert.NoError(t, err)
	}
	lossy := backend{name: "lossy", real: true, client: direct.client, cache: wrapped}

	_, err := newAdd(lossy, db, nil).Do(ctx, idem("lrc", 1, "claim-alice"))
	require.NoError(t, err)

	errDB := errors.New("deleting Alice's claim row failed")
	cancel := newReduce(lossy, db, func(c *andromeda.ReduceQuotaUsageConfig) {
		c.GetQuotaLimit = db.limit() // bounds the undo
		c.Next = andromeda.UpdateQuotaUsageFunc(func(context.Context, *andromeda.QuotaUsageRequest) (int64, error) {
			return 0, errDB
		})
	})
	// Warm the reduce script (EVALSHA finds it), so that the dropped reply is the run's.
	db.put("lrc-warm", 5, 1)
	_, err = newReduce(lossy, db, nil).Do(ctx, idem("lrc-warm", 1, "warm"))
	require.NoError(t, err)
	wrapped.armed.Store(true)
	_, err = cancel.Do(ctx, idem("lrc", 1, "claim-alice"))
	t.Logf("cancel Do: %v", err)
	require.Error(t, err)
	usage := direct.get(t, keyOf("lrc"))
	assert.LessOrEqual(t, usage, int64(1), "usage %d on a limit of 1: oversold", usage)
	assert.ErrorIs(t, err, andromeda.ErrUndoFailed, "the units the reduce freed were taken: it must stay applied")
}

// lossyRig starts a standalone server with a fault proxy in front of it: direct talks to
// the server, proxied (no client resends) through the proxy, which can drop a reply.
func lossyRig(t *testing.T) (direct backend, proxied *redis.Client, proxy *faultproxy.Proxy) {
	t.Helper()
	redistest.Require(t)
	server := redistest.Standalone(t)
	proxy, err := faultproxy.Start(server.Addr)
	require.NoError(t, err)
	t.Cleanup(proxy.Close)
	directClient := redis.NewClient(&redis.Options{Addr: server.Addr})
	t.Cleanup(func() { directClient.Close() })
	proxied = redis.NewClient(&redis.Options{Addr: proxy.Addr(), MaxRetries: -1})
	t.Cleanup(func() { proxied.Close() })
	return backend{name: "direct", real: true, client: directClient, cache: redisv9.New(directClient)}, proxied, proxy
}
