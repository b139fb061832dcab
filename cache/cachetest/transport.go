package cachetest

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The transport contract (andromeda.Cache's doc): each check calls the Cache directly.
var transportChecks = []struct {
	name string
	test func(t *testing.T, h Harness)
}{
	{"RunScriptBySHAWithEvalFallback", testScriptFallback},
	{"RunScriptReplyTypes", testReplyTypes},
	{"RunScriptErrorReply", testErrorReply},
	{"GetFoundAndAbsent", testGet},
	{"LockIsExclusiveAndFenced", testTransportLock},
	{"LockExpires", testTransportLockExpires},
}

// freshScript returns a script the server has not seen (its source is new), whose body
// is body.
func freshScript(body string) *andromeda.Script {
	return andromeda.NewScript("-- cachetest " + rand.Text() + "\n" + body)
}

// A script the server does not know yet runs, through EVAL after EVALSHA's NOSCRIPT,
// exactly once; then by its SHA1.
func testScriptFallback(t *testing.T, h Harness) {
	ctx := context.Background()
	s := freshScript("return redis.call('INCR', KEYS[1])")
	for want := int64(1); want <= 3; want++ {
		reply, err := h.Cache.RunScript(ctx, s, []string{"runs"}, "unused")
		require.NoError(t, err)
		assert.Equal(t, want, reply, "the script ran once per call")
	}
	assertRaw(t, h, "runs", "3")
}

// Replies come back as nil, int64, string and []any, nested as the script made them.
func testReplyTypes(t *testing.T, h Harness) {
	ctx := context.Background()
	for _, tc := range []struct {
		body string
		want any
	}{
		{"return nil", nil},
		{"return false", nil},
		{"return true", int64(1)},
		{"return 42", int64(42)},
		{"return -7", int64(-7)},
		{"return 'text'", "text"},
		{"return ARGV[1] .. ARGV[2]", "a12"}, // arguments arrive as strings
		{"return {1, 'two', {3, 'four'}}", []any{int64(1), "two", []any{int64(3), "four"}}},
		{"return {}", []any{}},
		{"return redis.call('GET', KEYS[1])", nil}, // an absent key
	} {
		reply, err := h.Cache.RunScript(ctx, freshScript(tc.body), []string{"absent"}, "a", int64(12))
		require.NoError(t, err, tc.body)
		assert.Equal(t, tc.want, reply, tc.body)
	}
}

// An error reply from Redis is an error with a RedisError method, whose text starts with
// the reply's code; it is not marked as not sent.
func testErrorReply(t *testing.T, h Harness) {
	ctx := context.Background()
	_, err := h.Cache.RunScript(ctx, freshScript("return redis.error_reply('MYCODE something failed')"), []string{"k"})
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "MYCODE"), "error text %q", err)
	var reply interface{ RedisError() }
	assert.True(t, errors.As(err, &reply), "the error has a RedisError method: %T", err)
	assert.NotErrorIs(t, err, andromeda.ErrNotSent)
}

// Get reads many keys, saying which are absent; a key of another type fails it with
// Redis's WRONGTYPE reply.
func testGet(t *testing.T, h Harness) {
	ctx := context.Background()
	require.NoError(t, h.SetRaw(ctx, "{g}:a", "1"))
	require.NoError(t, h.SetRaw(ctx, "{g}:c", "three"))
	require.NoError(t, h.SetRaw(ctx, "elsewhere", "4")) // likely another node on a cluster
	values, found, err := h.Cache.Get(ctx, []string{"{g}:a", "{g}:b", "{g}:c", "elsewhere"})
	require.NoError(t, err)
	assert.Equal(t, []bool{true, false, true, true}, found)
	assert.Equal(t, "1", values[0])
	assert.Equal(t, "three", values[2])
	assert.Equal(t, "4", values[3])

	_, err = h.Cache.RunScript(ctx, freshScript("return redis.call('HSET', KEYS[1], 'f', 'v')"), []string{"hash"})
	require.NoError(t, err)
	_, _, err = h.Cache.Get(ctx, []string{"hash"})
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "WRONGTYPE"), "error text %q", err)
}

// Lock stores a fresh token at its key; a second Lock fails with ErrLockedKey while it
// is held; release deletes the key only while it still holds the token.
func testTransportLock(t *testing.T, h Harness) {
	ctx := context.Background()
	token, release, err := h.Cache.Lock(ctx, "lock", time.Minute)
	require.NoError(t, err)
	require.NotEmpty(t, token)
	assertRaw(t, h, "lock", token)
	assertTTL(t, h, "lock", time.Minute)
	_, _, err = h.Cache.Lock(ctx, "lock", time.Minute)
	assert.ErrorIs(t, err, andromeda.ErrLockedKey)

	require.NoError(t, release(ctx))
	assertAbsent(t, h, "lock")
	token2, release2, err := h.Cache.Lock(ctx, "lock", time.Minute)
	require.NoError(t, err, "a released lock can be taken again")
	assert.NotEqual(t, token, token2, "every lock has its own token")
	require.NoError(t, release(ctx), "releasing a lock no longer held is not an error")
	assertRaw(t, h, "lock", token2) // and leaves the new holder's lock alone
	require.NoError(t, release2(ctx))
}

// A lock never released expires after its ttl.
func testTransportLockExpires(t *testing.T, h Harness) {
	ctx := context.Background()
	_, release, err := h.Cache.Lock(ctx, "lock", 100*time.Millisecond)
	require.NoError(t, err)
	h.Advance(250 * time.Millisecond)
	token, release2, err := h.Cache.Lock(ctx, "lock", time.Minute)
	require.NoError(t, err, "an expired lock can be taken again")
	require.NoError(t, release(ctx))
	assertRaw(t, h, "lock", token)
	require.NoError(t, release2(ctx))
}
