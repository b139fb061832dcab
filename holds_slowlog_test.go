package andromeda_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/ramadani/andromeda/internal/scripts"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// slowlogBound is the longest a single script run may block Redis.
const slowlogBound = 5 * time.Millisecond

// slowlogged starts a real redis-server whose SLOWLOG records every command slower than
// slowlogBound (miniredis has no SLOWLOG).
func slowlogged(t *testing.T) backend {
	s := redistest.Standalone(t)
	b := newBackend(t, "standalone", redis.NewClient(&redis.Options{Addr: s.Addr, PoolSize: 64}), true)
	ctx := context.Background()
	require.NoError(t, b.client.ConfigSet(ctx, "slowlog-log-slower-than", fmt.Sprint(slowlogBound.Microseconds())).Err())
	require.NoError(t, b.client.ConfigSet(ctx, "slowlog-max-len", "1000").Err())
	return b
}

// requireNoSlowCommand fails if any command since the last SLOWLOG RESET blocked Redis
// for longer than slowlogBound, naming each.
func requireNoSlowCommand(t *testing.T, b backend) {
	t.Helper()
	entries, err := b.client.SlowLogGet(context.Background(), -1).Result()
	require.NoError(t, err)
	var slow []string
	for _, e := range entries {
		args := e.Args
		if len(args) > 4 {
			args = args[:4]
		}
		slow = append(slow, fmt.Sprintf("%v for %v", args, e.Duration))
	}
	require.Empty(t, slow, "commands that blocked Redis for more than %v", slowlogBound)
}

// longestScript returns the longest run of a script since the last SLOWLOG RESET, with
// the log recording every command (slowlog-log-slower-than 0), and restores the bound.
func longestScript(t *testing.T, b backend) time.Duration {
	t.Helper()
	ctx := context.Background()
	entries, err := b.client.SlowLogGet(ctx, -1).Result()
	require.NoError(t, err)
	var longest time.Duration
	for _, e := range entries {
		if len(e.Args) > 0 && strings.HasPrefix(strings.ToLower(e.Args[0]), "eval") && e.Duration > longest {
			longest = e.Duration
		}
	}
	require.NoError(t, b.client.ConfigSet(ctx, "slowlog-log-slower-than", fmt.Sprint(slowlogBound.Microseconds())).Err())
	require.NoError(t, b.client.SlowLogReset(ctx).Err())
	return longest
}

func recordEverything(t *testing.T, b backend) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, b.client.ConfigSet(ctx, "slowlog-log-slower-than", "0").Err())
	require.NoError(t, b.client.SlowLogReset(ctx).Err())
}

// 10,000 abandoned holds expire; the calls that release them, whatever they are, each
// block Redis for well under 5 ms.
func TestReleasingTenThousandHoldsNeverBlocksRedis(t *testing.T) {
	b := slowlogged(t)
	const limit = 10_000
	db := newQuotaDB()
	db.put("sale", limit, 0)
	const holdFor = 2 * time.Second
	holds := newHolds(b, db, holdFor)
	add, reduce := newAdd(b, db, nil), newReduce(b, db, nil)
	ctx := context.Background()
	b.set(t, keyOf("sale"), 0)
	reservePipelined(t, b, keyOf("sale"), limit, holdFor)
	// Load the scripts, so that what follows runs by SHA1, as it does on a warm server.
	for _, src := range []string{scripts.Add, scripts.Reduce} {
		require.NoError(t, redis.NewScript(src).Load(ctx, b.client).Err())
	}
	waitPast(time.Now(), holdFor)

	recordEverything(t, b)
	usage, err := add.Do(ctx, req("sale", 1)) // the first call after expiry releases them all
	require.NoError(t, err)
	require.Equal(t, int64(1), usage)
	longest := longestScript(t, b)
	t.Logf("the add that released %d expired holds ran for %v", limit, longest)
	require.Less(t, longest, slowlogBound)

	usage, err = reduce.Do(ctx, req("sale", 1))
	require.NoError(t, err)
	require.Zero(t, usage)
	_, err = holds.Commit.Do(ctx, idem("sale", 0, "h-0"))
	require.ErrorIs(t, err, andromeda.ErrHoldExpired)
	usage, err = holds.Reserve.Do(ctx, idem("sale", limit, "all"))
	require.NoError(t, err)
	require.Equal(t, int64(limit), usage)
	requireNoSlowCommand(t, b)
}

// The usage key is lost under 100,000 active holds: the next call drops their buckets
// in O(buckets), never walking the holds, and none of them is released against the
// usage loaded afresh.
func TestUsageLostUnderManyHoldsNeverBlocksRedis(t *testing.T) {
	skipLongInShort(t)
	b := slowlogged(t)
	const n = 100_000
	db := newQuotaDB()
	db.put("sale", n+10, 7)
	holds := newHolds(b, db, time.Minute)
	ctx := context.Background()
	b.set(t, keyOf("sale"), 7)
	reservePipelined(t, b, keyOf("sale"), n, time.Minute)
	require.Equal(t, int64(n+7), b.get(t, keyOf("sale")))
	_, err := holds.Reserve.Do(ctx, idem("sale", 1, "one-more"))
	require.NoError(t, err)

	require.NoError(t, b.client.Del(ctx, keyOf("sale")).Err())
	recordEverything(t, b)
	usage, err := holds.Reserve.Do(ctx, idem("sale", 3, "after")) // missing, loaded (7), held
	require.NoError(t, err)
	require.Equal(t, int64(10), usage)
	longest := longestScript(t, b)
	t.Logf("the reserve that found the usage lost under %d holds ran for %v", n, longest)
	require.Less(t, longest, slowlogBound)

	_, err = holds.Commit.Do(ctx, idem("sale", 0, "h-99999"))
	require.ErrorIs(t, err, andromeda.ErrHoldExpired, "lost with the usage")
	usage, err = holds.Cancel.Do(ctx, idem("sale", 0, "one-more"))
	require.NoError(t, err)
	require.Equal(t, int64(10), usage, "a lost hold gives nothing back")
	usage, err = holds.Commit.Do(ctx, idem("sale", 0, "after"))
	require.NoError(t, err)
	assert.Equal(t, int64(10), usage)
	requireNoSlowCommand(t, b)
}

// reservePipelined reserves n holds of 1 on the usage at key, named h-0 .. h-(n-1), by
// running the hold script in pipelines, the way the store (store.go) calls it: many
// holds, quickly.
func reservePipelined(t testing.TB, b backend, key string, n int, holdFor time.Duration) {
	t.Helper()
	ctx := context.Background()
	script := redis.NewScript(scripts.Hold)
	require.NoError(t, script.Load(ctx, b.client).Err())
	const batch = 1000
	for start := 0; start < n; start += batch {
		pipe := b.client.Pipeline()
		for i := start; i < start+batch && i < n; i++ {
			buckets, hold := andromeda.HoldKeys(key, fmt.Sprint("h-", i))
			script.EvalSha(ctx, pipe, []string{key, buckets, hold}, "reserve", 1, andromeda.MaxAmount,
				holdFor.Milliseconds(), time.Hour.Milliseconds(), -1)
		}
		cmds, err := pipe.Exec(ctx)
		require.NoError(t, err)
		for _, c := range cmds {
			reply, err := c.(*redis.Cmd).Slice()
			require.NoError(t, err)
			require.Equal(t, int64(0), reply[0], "reserve %v", reply)
		}
	}
}
