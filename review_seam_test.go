package andromeda_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ramadani/andromeda"
)

// Adversarial checks of the Cache seam: what a third-party transport, or a user's
// wrapper around an adapter, may do to the library's promises.

// oddTransport is a user's wrapper around a real adapter: it runs every script for real,
// then hands the library whatever reply returns instead of Redis's.
type oddTransport struct {
	andromeda.Cache
	reply func(real any) (any, error)
}

func (c oddTransport) RunScript(ctx context.Context, s *andromeda.Script, keys []string, args ...any) (any, error) {
	got, err := c.Cache.RunScript(ctx, s, keys, args...)
	if err != nil {
		return got, err
	}
	return c.reply(got)
}

// A transport that answers a script it ran with a reply andromeda cannot read (nil with
// no error, a string, a short array) has run the change: Do must say the outcome is
// unknown, never give an error that a caller could take for "nothing happened", and
// never report success.
func TestReviewUnreadableReplyIsAnUnknownOutcome(t *testing.T) {
	for name, reply := range map[string]any{
		"nil":         nil,
		"string":      "OK",
		"short array": []any{int64(0)},
		"wrong types": []any{"0", "1"},
	} {
		t.Run(name, func(t *testing.T) {
			b := miniredisBackend(t)
			db := newQuotaDB()
			db.put("v1", 10, 0)
			b.set(t, keyOf("v1"), 3)
			odd := oddTransport{Cache: b.cache, reply: func(any) (any, error) { return reply, nil }}
			add := newAdd(backend{cache: odd}, db, nil)
			_, err := add.Do(context.Background(), req("v1", 1))
			require.Error(t, err)
			assert.Equal(t, int64(4), b.get(t, keyOf("v1")), "the script ran")
			var qe *andromeda.QuotaError
			require.ErrorAs(t, err, &qe)
			assert.ErrorIs(t, err, andromeda.ErrUnknownOutcome, "the change was applied: %v", err)
		})
	}
}

// redisReply is an error reply from Redis, as go-redis types them.
type redisReply string

func (e redisReply) Error() string { return string(e) }
func (redisReply) RedisError()     {}

// README's guarantee 6 says every error of Do wraps a sentinel. An error reply that is
// neither "not run" nor CROSSSLOT reaches the caller wrapping none: a Lua runtime error
// (which may follow writes of the same script: Redis does not roll a script back), an
// ACL refusal (NOPERM, also raised by a redis.call inside the script, after its earlier
// writes), MISCONF. A caller cannot tell "nothing changed" from "something may have".
func TestReviewEveryRedisErrorReplyWrapsASentinel(t *testing.T) {
	for _, reply := range []redisReply{
		"ERR user_script:247: attempt to call upvalue 'foreignBucket' (a nil value) script: 0fb0, on @user_script:247.",
		"NOPERM this user has no permissions to run the 'decrby' command script: 0fb0, on @user_script:12.",
		"MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk.",
	} {
		t.Run(string(reply), func(t *testing.T) {
			b := miniredisBackend(t)
			db := newQuotaDB()
			db.put("v1", 10, 0)
			odd := oddTransport{Cache: b.cache, reply: func(any) (any, error) { return nil, reply }}
			_, err := newAdd(backend{cache: odd}, db, nil).Do(context.Background(), req("v1", 1))
			require.Error(t, err)
			assert.True(t, errors.Is(err, andromeda.ErrUnknownOutcome) || errors.Is(err, andromeda.ErrRedisUnavailable),
				"wraps a sentinel that says what may have changed: %v", err)
		})
	}
}

// shortGet is a transport whose Get breaks the contract the way a hand-written one may:
// nothing found, so it returns no values at all.
type shortGet struct{ andromeda.Cache }

func (shortGet) Get(context.Context, []string) ([]string, []bool, error) { return nil, nil, nil }

// A Get that returns fewer values than keys must give an error, never a panic: the loader
// reads through it inside Do. (ReadCachedUsages reads with a script, not Get: it is
// untouched.)
func TestReviewShortGetIsAnErrorNotAPanic(t *testing.T) {
	b := miniredisBackend(t)
	db := newQuotaDB()
	db.put("v1", 10, 4)
	cache := shortGet{b.cache}
	var err error
	require.NotPanics(t, func() { _, err = newAdd(backend{cache: cache}, db, nil).Do(context.Background(), req("v1", 1)) })
	require.ErrorIs(t, err, andromeda.ErrRedisUnavailable)
	assert.Equal(t, int64(-1), b.get(t, keyOf("v1")), "nothing stored")

	var read []andromeda.CachedUsage
	require.NotPanics(t, func() {
		read, err = andromeda.ReadCachedUsages(context.Background(), cache, usageKey, []*andromeda.QuotaRequest{{QuotaID: "v1"}})
	})
	require.NoError(t, err)
	assert.False(t, read[0].Found)
}

// The loader's fenced write, answered with a reply andromeda cannot read after it ran,
// is an unknown outcome too (the loaded value may be stored): the loader looks again and
// the Do goes on, where it failed with an error wrapping no sentinel.
func TestReviewUnreadableLoaderReplyIsAnUnknownOutcome(t *testing.T) {
	b := miniredisBackend(t)
	db := newQuotaDB()
	db.put("v1", 10, 4)
	var scripts atomic.Int64
	odd := oddTransport{Cache: b.cache, reply: func(real any) (any, error) {
		if scripts.Add(1) == 2 { // the add finds the key missing, then the loader writes it
			return "OK", nil
		}
		return real, nil
	}}
	usage, err := newAdd(backend{cache: odd}, db, nil).Do(context.Background(), req("v1", 1))
	require.NoError(t, err, "the loader looks again, as for a write of unknown outcome")
	assert.Equal(t, int64(5), usage)
	assert.Equal(t, int64(1), db.loads.Load())
}

// Replies of a multi-quota script that name no quota sent, or carry too few usages, are
// unreadable too: an unknown outcome, never an index panic.
func TestReviewUnreadableMultiReplyIsAnUnknownOutcome(t *testing.T) {
	for name, reply := range map[string]any{
		"applied, no usages":           []any{int64(0), int64(0)},
		"applied, one usage of two":    []any{int64(0), int64(0), int64(1)},
		"refused by quota 7 of 2":      []any{int64(2), int64(7), int64(1), int64(1)},
		"refused by quota 0 (1-based)": []any{int64(2), int64(0), int64(1), int64(1)},
		"foreign value at quota 9":     []any{int64(9), int64(9), "x"},
		"missing quota 3":              []any{int64(1), int64(3)},
	} {
		t.Run(name, func(t *testing.T) {
			b := miniredisBackend(t)
			odd := oddTransport{Cache: b.cache, reply: func(any) (any, error) { return reply, nil }}
			multi := andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: odd,
				Quotas: []andromeda.Quota{{GetQuotaLimit: constLimit(5), GetQuotaUsageKey: constKey("{m}a")},
					{GetQuotaLimit: constLimit(5), GetQuotaUsageKey: constKey("{m}b")}}})
			var err error
			require.NotPanics(t, func() { _, err = multi.Do(context.Background(), req("q", 1)) })
			require.ErrorIs(t, err, andromeda.ErrUnknownOutcome)
		})
	}
}
