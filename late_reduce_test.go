package andromeda_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// copyingCache keeps every call of reduce.lua it passes on, so a test can deliver a late
// copy of that attempt (what the network does with a request the client gave up on)
// after the Do that sent it is over.
type copyingCache struct {
	andromeda.Cache
	mu      sync.Mutex
	reduces []scriptCall
}

// scriptCall is one call of Cache.RunScript.
type scriptCall struct {
	script *andromeda.Script
	keys   []string
	args   []any
}

func (c *copyingCache) RunScript(ctx context.Context, s *andromeda.Script, keys []string, args ...any) (any, error) {
	if s.SHA1() == reduceSHA {
		c.mu.Lock()
		c.reduces = append(c.reduces, scriptCall{s, keys, args})
		c.mu.Unlock()
	}
	return c.Cache.RunScript(ctx, s, keys, args...)
}

// The claim flow's compensating reduce (same key as the add) takes the add back, its
// Next fails, and the reduce is undone: the add counts again, and Do reports Next's
// error. A copy of the reduce's attempt delivered late, after that Do was undone, must
// change nothing (README, "Counting once": "a copy of one of its requests that the
// network delivers late, after the Do was undone ..., changes nothing").
//
// KNOWN LIMIT (skipped, in the README): the put-back rewrites the add's record as "applied" with the add's attempt and
// keeps no trace of the reduce's attempt, so the late copy of the reduce finds an applied
// add and takes it back again: usage 0 while the add stands and the reduce was undone.
func TestLateCompensatingReduceAfterItsUndo(t *testing.T) {
	t.Skip("known limit, listed in the README (Known limits): a late copy of a compensating reduce whose Do was undone takes the add back again")
	eachBackend(t, func(t *testing.T, b backend) {
		db := newQuotaDB()
		db.put("lr", 10, 0)
		cc := &copyingCache{Cache: b.cache}
		add := newAdd(backend{cache: cc}, db, nil)
		errNext := errors.New("refund row failed")
		reduce := newReduce(backend{cache: cc}, db, func(c *andromeda.ReduceQuotaUsageConfig) {
			c.Next = andromeda.UpdateQuotaUsageFunc(func(context.Context, *andromeda.QuotaUsageRequest) (int64, error) { return 0, errNext })
		})
		ctx := context.Background()
		claim := &andromeda.QuotaUsageRequest{QuotaID: "lr", Usage: 1, IdempotencyKey: "claim-1"}
		_, err := add.Do(ctx, claim)
		require.NoError(t, err)

		_, err = reduce.Do(ctx, claim)
		require.ErrorIs(t, err, errNext)
		require.Equal(t, int64(1), b.get(t, keyOf("lr")), "the reduce was undone: the add counts")

		cc.mu.Lock()
		require.NotEmpty(t, cc.reduces)
		late := cc.reduces[0]
		cc.mu.Unlock()
		_, err = b.cache.RunScript(ctx, late.script, late.keys, late.args...) // the reduce's attempt, delivered late
		require.NoError(t, err)
		assert.Equal(t, int64(1), b.get(t, keyOf("lr")), "a late copy of an undone Do's attempt changed the usage")
	})
}

// A keyed add's Next fails and the add is undone (the undo is a reduce of the add's
// record, sent with retries when its outcome is unknown). A new Do with the key is a fresh
// attempt and is applied. Then a copy of the first Do's undo, held up on the network,
// arrives: it is one of the first Do's requests, delivered after that Do ended, and must
// change nothing.
//
// KNOWN LIMIT (skipped, in the README): the late undo finds the new Do's applied record and takes it back (usage 0 with
// the second Do's claim reported applied): the undo checks the record's state but not
// that the record is its own Do's.
func TestLateUndoAfterAFreshDo(t *testing.T) {
	t.Skip("known limit, listed in the README (Known limits): a late copy of an undo takes back a later Do's fresh add")
	eachBackend(t, func(t *testing.T, b backend) {
		db := newQuotaDB()
		db.put("lu", 10, 0)
		cc := &copyingCache{Cache: b.cache}
		errNext := errors.New("insert failed")
		failing := newAdd(backend{cache: cc}, db, func(c *andromeda.AddQuotaUsageConfig) {
			c.Next = andromeda.UpdateQuotaUsageFunc(func(context.Context, *andromeda.QuotaUsageRequest) (int64, error) { return 0, errNext })
		})
		add := newAdd(b, db, nil)
		ctx := context.Background()
		claim := func() *andromeda.QuotaUsageRequest {
			return &andromeda.QuotaUsageRequest{QuotaID: "lu", Usage: 1, IdempotencyKey: "order-7"}
		}
		_, err := failing.Do(ctx, claim())
		require.ErrorIs(t, err, errNext)
		require.Equal(t, int64(0), b.get(t, keyOf("lu")))
		_, err = add.Do(ctx, claim()) // the retry: a fresh attempt
		require.NoError(t, err)
		require.Equal(t, int64(1), b.get(t, keyOf("lu")))

		cc.mu.Lock()
		require.Len(t, cc.reduces, 1, "the undo")
		late := cc.reduces[0]
		cc.mu.Unlock()
		_, _ = b.cache.RunScript(ctx, late.script, late.keys, late.args...) // the first Do's undo, delivered late
		assert.Equal(t, int64(1), b.get(t, keyOf("lu")), "a late copy of the first Do's undo took back the second Do's add")
	})
}
