package andromeda_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ramadani/andromeda"
)

// waitingTransport stands for an adapter with WaitForReplicas on a cluster: every script
// it runs answers with a replayed add, and it counts the scripts and slot refreshes.
type waitingTransport struct {
	andromeda.Cache
	scripts, refreshes atomic.Int64
}

func (c *waitingTransport) RunScript(context.Context, *andromeda.Script, []string, ...any) (any, error) {
	c.scripts.Add(1)
	return []any{int64(0), int64(5), int64(10), int64(1)}, nil // applied earlier: replayed
}

func (c *waitingTransport) WaitsForReplicas() bool { return true }

func (c *waitingTransport) RefreshSlots(context.Context) bool {
	c.refreshes.Add(1)
	return true
}

// embeddingWrapper is the instrumentation wrapper users write first: it embeds the
// interface, so the library sees only the three Cache methods.
type embeddingWrapper struct{ andromeda.Cache }

// forwardingWrapper forwards the optional interfaces too, as Cache's doc asks.
type forwardingWrapper struct{ *waitingTransport }

func keyedAddOver(cache andromeda.Cache) error {
	db := newQuotaDB()
	db.put("v1", 10, 0)
	add := newAdd(backend{cache: cache}, db, nil)
	r := req("v1", 1)
	r.IdempotencyKey = "order-1"
	_, err := add.Do(context.Background(), r)
	return err
}

// A replayed change under WaitForReplicas is confirmed on the replicas by one more script
// (the touch). A wrapper that embeds andromeda.Cache hides ReplicaWaiter and SlotRefresher:
// the replay is acknowledged unconfirmed, silently. The docs of both interfaces say so;
// this pins what happens, so that a change to it is seen.
func TestReviewWrapperHidesReplicaWaiter(t *testing.T) {
	direct := &waitingTransport{}
	require.NoError(t, keyedAddOver(direct))
	assert.Equal(t, int64(2), direct.scripts.Load(), "the replayed add, then the touch that WAIT covers")

	forwarded := &waitingTransport{}
	require.NoError(t, keyedAddOver(forwardingWrapper{forwarded}))
	assert.Equal(t, int64(2), forwarded.scripts.Load(), "a wrapper that forwards keeps the confirmation")

	hidden := &waitingTransport{}
	require.NoError(t, keyedAddOver(embeddingWrapper{hidden}))
	assert.Equal(t, int64(1), hidden.scripts.Load(), "an embedding wrapper loses it: documented on ReplicaWaiter")
}
