package andromeda_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/ramadani/andromeda"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The sync job's helper reads present and absent usages alike, across cluster slots, and
// marks the absent ones so that no stale zero is written back.
func TestReadCachedUsages(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		var quotas []*andromeda.QuotaRequest
		for i := 0; i < 20; i++ {
			id := fmt.Sprint("v", i)
			quotas = append(quotas, &andromeda.QuotaRequest{QuotaID: id})
			if i%3 != 0 {
				b.set(t, keyOf(id), i*10)
			}
		}
		got, err := andromeda.ReadCachedUsages(context.Background(), b.cache, usageKey, quotas)
		require.NoError(t, err)
		require.Len(t, got, 20)
		for i, u := range got {
			want := andromeda.CachedUsage{QuotaID: fmt.Sprint("v", i), Key: keyOf(fmt.Sprint("v", i))}
			if i%3 != 0 {
				want.Usage, want.Found = int64(i*10), true
			}
			assert.Equal(t, want, u)
		}
	})
}

func TestReadCachedUsagesIsOneRoundTrip(t *testing.T) {
	b := standaloneBackend(t)
	var pipelines int
	b.client.(*redis.Client).AddHook(pipelineCounter{&pipelines})
	quotas := []*andromeda.QuotaRequest{{QuotaID: "a"}, {QuotaID: "b"}, {QuotaID: "c"}}
	_, err := andromeda.ReadCachedUsages(context.Background(), b.cache, usageKey, quotas)
	require.NoError(t, err)
	assert.Equal(t, 1, pipelines)
}

func TestReadCachedUsagesBadInput(t *testing.T) {
	b := miniredisBackend(t)
	_, err := andromeda.ReadCachedUsages(context.Background(), b.cache, usageKey, []*andromeda.QuotaRequest{nil})
	assert.ErrorIs(t, err, andromeda.ErrInvalidRequest)
	b.set(t, keyOf("x"), "many")
	_, err = andromeda.ReadCachedUsages(context.Background(), b.cache, usageKey, []*andromeda.QuotaRequest{{QuotaID: "x"}})
	assert.ErrorIs(t, err, andromeda.ErrInvalidCachedUsage)
	got, err := andromeda.ReadCachedUsages(context.Background(), b.cache, usageKey, nil)
	require.NoError(t, err)
	assert.Empty(t, got)
}

// pipelineCounter counts the pipelines of GETs a client sends (not the connection's
// own handshake).
type pipelineCounter struct{ n *int }

func (p pipelineCounter) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (p pipelineCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (p pipelineCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if cmds[0].Name() == "get" {
			*p.n++
		}
		return next(ctx, cmds)
	}
}
