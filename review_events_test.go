package andromeda_test

import (
	"context"
	"sort"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ramadani/andromeda"
)

// Coalesced adds are decided in order inside one script: each Do's usage, and its Event,
// must be its own point in that order. 64 adds of 1 from 0 report 1..64, each once, and
// their Events say the same, with the key and no replay.
func TestReviewCoalescedEventsTellEachAddItsOwnUsage(t *testing.T) {
	eachRealBackend(t, func(t *testing.T, b backend) {
		key := "ev:{coalesced}:usage"
		b.set(t, key, 0)
		events := &eventRecorder{t: t}
		add := reviewAdd(b, key, func(c *andromeda.AddQuotaUsageConfig) {
			c.GetQuotaLimit = constLimit(1000)
			c.Option = andromeda.AddUsageOption{Coalesce: true, Listener: events}
		})
		const n = 64
		usages := make([]int64, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				usage, err := add.Do(context.Background(), req("q", 1))
				assert.NoError(t, err)
				usages[i] = usage
			}()
		}
		wg.Wait()
		require.Len(t, events.events, n, "one event per Do")
		fromEvents := make([]int64, 0, n)
		for _, ev := range events.events {
			assert.Equal(t, andromeda.OpAdd, ev.Op)
			assert.Equal(t, key, ev.Key)
			assert.False(t, ev.Replayed)
			assert.Equal(t, "ok", ev.Outcome())
			fromEvents = append(fromEvents, ev.Usage)
		}
		sort.Slice(usages, func(i, j int) bool { return usages[i] < usages[j] })
		sort.Slice(fromEvents, func(i, j int) bool { return fromEvents[i] < fromEvents[j] })
		for i := range n {
			assert.Equal(t, int64(i+1), usages[i])
		}
		assert.Equal(t, usages, fromEvents)
		assert.Equal(t, int64(n), b.get(t, key))
	})
}

// A keyed add repeated after it was applied is replayed: its Event says so, and says the
// usage the first Do reported; a multi-quota refusal's Event names the quota that refused.
func TestReviewEventsOfReplaysAndMultiRefusals(t *testing.T) {
	b := standaloneBackend(t)
	ctx := context.Background()
	events := &eventRecorder{t: t}
	add := reviewAdd(b, "ev:{r}:usage", func(c *andromeda.AddQuotaUsageConfig) { c.Option.Listener = events })
	first, err := add.Do(ctx, keyed(2, "order-1"))
	require.NoError(t, err)
	assert.False(t, events.take(t).Replayed)
	_, err = add.Do(ctx, req("q", 5))
	require.NoError(t, err)
	events.take(t)
	again, err := add.Do(ctx, keyed(2, "order-1"))
	require.NoError(t, err)
	assert.Equal(t, first, again)
	ev := events.take(t)
	assert.True(t, ev.Replayed)
	assert.Equal(t, first, ev.Usage)
	assert.Equal(t, int64(7), b.get(t, "ev:{r}:usage"), "counted once")

	b.set(t, "ev:{m}:b", 4)
	multi := andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache,
		Quotas: []andromeda.Quota{{GetQuotaLimit: constLimit(10), GetQuotaUsageKey: constKey("ev:{m}:a")},
			{GetQuotaLimit: constLimit(5), GetQuotaUsageKey: constKey("ev:{m}:b")}},
		Option: andromeda.MultiQuotaUsageOption{Listener: events}})
	_, err = multi.Do(ctx, req("q", 2))
	require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded)
	ev = events.take(t)
	assert.Equal(t, andromeda.OpMultiAdd, ev.Op)
	assert.Equal(t, "refused", ev.Outcome())
	assert.Equal(t, "ev:{m}:b", ev.Key, "the quota that refused")
	assert.Equal(t, int64(4), ev.Usage)
	assert.Equal(t, int64(5), ev.Limit)
	assert.Equal(t, int64(-1), b.get(t, "ev:{m}:a"), "all or nothing")
}
