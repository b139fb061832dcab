package andromeda_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ramadani/andromeda"
)

// downAfter runs the first `ok` scripts for real, then fails every one the way a
// transport reports an outage (not sent) or a lost reply (may have run).
type downAfter struct {
	andromeda.Cache
	ok    int64
	fail  error
	calls atomic.Int64
}

func (c *downAfter) RunScript(ctx context.Context, s *andromeda.Script, keys []string, args ...any) (any, error) {
	if c.calls.Add(1) > c.ok {
		return nil, c.fail
	}
	return c.Cache.RunScript(ctx, s, keys, args...)
}

// The undo of every kind of change failing after Next failed: the error wraps
// ErrUndoFailed and never a sentinel that says nothing changed (ErrRedisUnavailable,
// Next's refusal); its Event says "error"/"undo_failed"; the change is still counted.
func TestReviewUndoFailingAfterEveryKindOfChange(t *testing.T) {
	notSent := fmt.Errorf("%w: dial tcp: connection refused", andromeda.ErrNotSent)
	refusingNext := andromeda.UpdateQuotaUsageFunc(func(context.Context, *andromeda.QuotaUsageRequest) (int64, error) {
		return 0, fmt.Errorf("second quota: %w", andromeda.ErrQuotaLimitExceeded)
	})
	for _, fail := range []error{notSent, errors.New("read tcp: connection reset by peer")} {
		for name, build := range map[string]func(c andromeda.Cache, l andromeda.UpdateQuotaUsageListener) andromeda.UpdateQuotaUsage{
			"add": func(c andromeda.Cache, l andromeda.UpdateQuotaUsageListener) andromeda.UpdateQuotaUsage {
				return andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: c, GetQuotaLimit: constLimit(10),
					GetQuotaUsageKey: constKey("{u}a"), Next: refusingNext, Option: andromeda.AddUsageOption{Listener: l}})
			},
			"reduce": func(c andromeda.Cache, l andromeda.UpdateQuotaUsageListener) andromeda.UpdateQuotaUsage {
				return andromeda.ReduceQuotaUsage(andromeda.ReduceQuotaUsageConfig{Cache: c,
					GetQuotaUsageKey: constKey("{u}a"), Next: refusingNext, Option: andromeda.ReduceUsageOption{Listener: l}})
			},
			"multi add": func(c andromeda.Cache, l andromeda.UpdateQuotaUsageListener) andromeda.UpdateQuotaUsage {
				return andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: c, Next: refusingNext,
					Quotas: []andromeda.Quota{{GetQuotaLimit: constLimit(10), GetQuotaUsageKey: constKey("{u}a")},
						{GetQuotaLimit: constLimit(10), GetQuotaUsageKey: constKey("{u}b")}},
					Option: andromeda.MultiQuotaUsageOption{Listener: l}})
			},
		} {
			t.Run(name+"/"+fail.Error(), func(t *testing.T) {
				b := miniredisBackend(t)
				b.set(t, "{u}a", 5)
				b.set(t, "{u}b", 5)
				cache := &downAfter{Cache: b.cache, ok: 1, fail: fail}
				events := &eventRecorder{t: t}
				_, err := build(cache, events).Do(context.Background(), req("q", 1))
				require.ErrorIs(t, err, andromeda.ErrUndoFailed)
				assert.NotErrorIs(t, err, andromeda.ErrRedisUnavailable, "the change stays: not 'nothing changed'")
				assert.NotErrorIs(t, err, andromeda.ErrQuotaLimitExceeded, "Next's refusal is not Do's")
				assert.Contains(t, err.Error(), "second quota", "Next's error is in the message")
				ev := events.take(t)
				assert.Equal(t, "error", ev.Outcome())
				assert.Equal(t, "undo_failed", ev.Cause())
				assert.NotEqual(t, int64(5), b.get(t, "{u}a"), "still counted")
			})
		}
	}
}
