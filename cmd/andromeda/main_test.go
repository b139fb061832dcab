package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/redisv9"
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var cluster redistest.SharedCluster

func TestMain(m *testing.M) {
	// No test may reach a server it did not start: a forgotten -addr fails instead.
	defaultAddr = "127.0.0.1:1"
	code := m.Run()
	cluster.Stop()
	os.Exit(code)
}

// target is a Redis the command runs against: the flags that reach it, and a client of
// the test's own to set it up and check it.
type target struct {
	name   string
	flags  []string
	client redis.UniversalClient
	cache  andromeda.Cache
}

func standalone(t *testing.T) target {
	s := redistest.Standalone(t)
	client := redis.NewClient(&redis.Options{Addr: s.Addr})
	t.Cleanup(func() { client.Close() })
	return target{"standalone", []string{"-addr", s.Addr}, client, redisv9.New(client)}
}

func clustered(t *testing.T) target {
	c := cluster.Get(t)
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	t.Cleanup(func() { client.Close() })
	return target{"cluster", []string{"-cluster", strings.Join(c.Addrs(), ",")}, client, redisv9.New(client)}
}

// eachTarget runs test against a standalone server and a 3-master cluster.
func eachTarget(t *testing.T, test func(t *testing.T, tg target)) {
	for _, start := range []func(*testing.T) target{standalone, clustered} {
		tg := start(t)
		t.Run(tg.name, func(t *testing.T) { test(t, tg) })
	}
}

// result is what one run of the command printed and returned.
type result struct {
	code           int
	stdout, stderr string
}

// cli runs the command with the target's connection flags before args.
func (tg target) cli(args ...string) result {
	return runCLI(append(append([]string{}, tg.flags...), args...)...)
}

func runCLI(args ...string) result {
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

// holdOn reserves amount on the usage at key for holdFor.
func (tg target) holdOn(t *testing.T, key, id string, amount int64, holdFor time.Duration) {
	t.Helper()
	_, err := tg.holds(key, holdFor).Reserve.Do(context.Background(), &andromeda.QuotaUsageRequest{QuotaID: key, Usage: amount, IdempotencyKey: id})
	require.NoError(t, err)
}

// holds are the holds on the usage at key, with a limit of 100.
func (tg target) holds(key string, holdFor time.Duration) andromeda.QuotaHolds {
	return andromeda.NewQuotaHolds(andromeda.QuotaHoldsConfig{Cache: tg.cache, Quota: andromeda.Quota{
		GetQuotaLimit: andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) {
			return 100, nil
		}),
		GetQuotaUsageKey: andromeda.GetQuotaKeyFunc(func(context.Context, *andromeda.QuotaRequest) (string, error) {
			return key, nil
		}),
	}, HoldFor: holdFor, Retention: time.Hour})
}

func TestInspect(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		const key = "voucher-1"
		require.NoError(t, tg.client.Set(ctx, key, 5, time.Hour).Err())
		require.NoError(t, andromeda.SetQuotaLimit(ctx, tg.cache, key, 20, 0))
		tg.holdOn(t, key, "short", 2, 50*time.Millisecond)
		tg.holdOn(t, key, "long", 3, time.Hour)
		time.Sleep(150 * time.Millisecond) // the short hold ends by the server's clock

		r := tg.cli("inspect", key)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Empty(t, r.stderr)
		assert.Regexp(t, `(?m)^usage\s+10\s+expires in (59m5\ds|1h0m0s)$`, r.stdout)
		assert.Regexp(t, `(?m)^limit\s+20\s+no expiration, at \{voucher-1\}:limit$`, r.stdout)
		assert.Regexp(t, `(?m)^remaining\s+10$`, r.stdout)
		assert.Regexp(t, `(?m)^holds\s+3 open, 2 expired\s+expires in .*, at \{voucher-1\}:hold-buckets$`, r.stdout)
		assert.Regexp(t, `(?m)^  \S+\s+2\s+expired \S+ ago$`, r.stdout)
		assert.Regexp(t, `(?m)^  \S+\s+3\s+open, ends in 1h0m\d+s$`, r.stdout)
		assert.Contains(t, r.stdout, "still counted until the next change or release-expired")
		got, err := tg.client.Get(ctx, key).Result()
		require.NoError(t, err)
		assert.Equal(t, "10", got, "inspect changes nothing")
	})
}

func TestInspectMissingAndForeignKeys(t *testing.T) {
	tg := standalone(t)
	ctx := context.Background()

	r := tg.cli("inspect", "nothing-here")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `(?m)^usage\s+not in Redis\s+the next change loads it from the database$`, r.stdout)
	assert.Regexp(t, `(?m)^limit\s+not kept in Redis`, r.stdout)
	assert.Regexp(t, `(?m)^holds\s+none$`, r.stdout)

	require.NoError(t, tg.client.Set(ctx, "bad", "abc", 0).Err())
	r = tg.cli("inspect", "bad")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stdout, "not a usage")
	assert.Contains(t, r.stderr, `andromeda: cached quota usage is not a whole number from 0 to 2^53: key "bad" holds "abc"`)

	require.NoError(t, tg.client.HSet(ctx, "hashed", "a", "1").Err())
	r = tg.cli("inspect", "hashed")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `key "hashed" holds a hash`)

	buckets, _ := andromeda.HoldKeys("odd-buckets", "")
	require.NoError(t, tg.client.Set(ctx, "odd-buckets", 1, 0).Err())
	require.NoError(t, tg.client.HSet(ctx, buckets, "soon", "2").Err())
	r = tg.cli("inspect", "odd-buckets")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "soon=2")
}

func TestSetLimit(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		r := tg.cli("set-limit", "-expire", "1h", "q", "42")
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, "limit of q set to 42 at {q}:limit (expires in 1h0m0s)")
		assert.Equal(t, "42", tg.client.Get(ctx, andromeda.LimitKey("q")).Val())
		ttl := tg.client.PTTL(ctx, andromeda.LimitKey("q")).Val()
		assert.True(t, ttl > 59*time.Minute && ttl <= time.Hour, "TTL %v", ttl)

		r = tg.cli("set-limit", "q", "43", "-expire", "1h") // flags after the arguments, as the README writes them
		require.Equal(t, 0, r.code, r.stderr)
		assert.Equal(t, "43", tg.client.Get(ctx, andromeda.LimitKey("q")).Val())

		r = tg.cli("set-limit", "q", "7") // no expiration
		require.Equal(t, 0, r.code, r.stderr)
		assert.Equal(t, "7", tg.client.Get(ctx, andromeda.LimitKey("q")).Val())
		assert.Equal(t, time.Duration(-1), tg.client.TTL(ctx, andromeda.LimitKey("q")).Val())
	})
}

func TestReleaseExpired(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		require.NoError(t, tg.client.Set(ctx, "r", 1, 0).Err())
		tg.holdOn(t, "r", "a", 4, 50*time.Millisecond)
		tg.holdOn(t, "r", "b", 2, time.Hour)
		time.Sleep(150 * time.Millisecond)

		r := tg.cli("release-expired", "r")
		require.Equal(t, 0, r.code, r.stderr)
		assert.Equal(t, "r: expired holds released, usage now 3\n", r.stdout)
		assert.Equal(t, "3", tg.client.Get(ctx, "r").Val())

		r = tg.cli("release-expired", "absent")
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, "absent: no usage in Redis")
	})
}

func TestForget(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		require.NoError(t, tg.client.Set(ctx, "f", 4, 0).Err())
		tg.holdOn(t, "f", "a", 2, time.Hour)
		require.NoError(t, andromeda.SetQuotaLimit(ctx, tg.cache, "f", 10, 0))

		r := tg.cli("forget", "f")
		require.Equal(t, 0, r.code, r.stderr)
		assert.Equal(t, "f: forgot usage 6 and its holds; the next change loads it from the database\n", r.stdout)
		buckets, _ := andromeda.HoldKeys("f", "")
		assert.Zero(t, tg.client.Exists(ctx, "f").Val())
		assert.Zero(t, tg.client.Exists(ctx, buckets).Val())
		assert.Equal(t, "10", tg.client.Get(ctx, andromeda.LimitKey("f")).Val(), "the limit stays")

		r = tg.cli("forget", "f")
		require.Equal(t, 0, r.code, r.stderr)
		assert.Equal(t, "f: no usage in Redis, nothing to forget\n", r.stdout)

		require.NoError(t, tg.client.Set(ctx, "bad", "abc", 0).Err())
		r = tg.cli("forget", "bad")
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, `key "bad" holds "abc"`)
		assert.Equal(t, "abc", tg.client.Get(ctx, "bad").Val(), "kept")
	})
}

func TestWatch(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		require.NoError(t, tg.client.Set(ctx, "w1", 5, 0).Err())
		require.NoError(t, andromeda.SetQuotaLimit(ctx, tg.cache, "w1", 10, 0))
		require.NoError(t, tg.client.Set(ctx, "w2", 3, 0).Err())

		r := tg.cli("watch", "-interval", "20ms", "-count", "2", "w1", "w2", "w3")
		require.Equal(t, 0, r.code, r.stderr)
		frames := strings.Split(strings.TrimSpace(r.stdout), "\n\n")
		require.Len(t, frames, 2, r.stdout)
		for _, frame := range frames {
			assert.Regexp(t, `(?m)^KEY\s+USAGE\s+LIMIT\s+USED$`, frame)
			assert.Regexp(t, `(?m)^w1\s+5\s+10\s+\[##########\.{10}\]  50\.0%$`, frame)
			assert.Regexp(t, `(?m)^w2\s+3\s+-\s+limit not kept in Redis$`, frame)
			assert.Regexp(t, `(?m)^w3\s+-\s+-\s+usage not in Redis$`, frame)
		}

		require.NoError(t, tg.client.Set(ctx, "w2", "abc", 0).Err())
		r = tg.cli("watch", "-count", "1", "w1", "w2")
		assert.Equal(t, 1, r.code)
		assert.Regexp(t, `(?m)^w1\s+5\s+10\s+\[#+\.+\]  50\.0%$`, r.stdout, "the other keys are still shown")
		assert.Regexp(t, `(?m)^w2\s+invalid\s+-\s+.*holds "abc"$`, r.stdout)
		assert.Contains(t, r.stderr, `holds "abc"`)
	})
}

// A command stopped by its context (SIGINT, SIGTERM) ends watch without an error.
func TestWatchStopsWithItsContext(t *testing.T) {
	tg := standalone(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	var stdout, stderr bytes.Buffer
	start := time.Now()
	err := runContext(ctx, append(tg.flags, "watch", "-interval", "20ms", "k"), &stdout, &stderr)
	require.NoError(t, err)
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.GreaterOrEqual(t, strings.Count(stdout.String(), "KEY"), 2)
}

func TestSentinel(t *testing.T) {
	sentinel := redistest.Sentinel(t)
	r := runCLI("-sentinel", sentinel, "-master", redistest.SentinelMaster, "set-limit", "s", "3")
	require.Equal(t, 0, r.code, r.stderr)
	r = runCLI("inspect", "-sentinel", sentinel, "-master", redistest.SentinelMaster, "s") // flags after the command
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `(?m)^limit\s+3\s`, r.stdout)
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "no command"},
		{[]string{"reset", "k"}, `unknown command "reset"`},
		{[]string{"inspect"}, "inspect takes KEY, got 0 argument(s)"},
		{[]string{"inspect", "a", "b"}, "inspect takes KEY, got 2 argument(s)"},
		{[]string{"inspect", ""}, "inspect: empty key"},
		{[]string{"set-limit", "k"}, "set-limit takes KEY N, got 1 argument(s)"},
		{[]string{"set-limit", "k", "ten"}, `limit "ten" is not a whole number`},
		{[]string{"set-limit", "k", "-1"}, "limit -1, want 0 to 9007199254740992"},
		{[]string{"set-limit", "-x", "k", "1"}, "flag provided but not defined: -x"},
		{[]string{"forget"}, "forget takes KEY, got 0 argument(s)"},
		{[]string{"release-expired"}, "release-expired takes KEY, got 0 argument(s)"},
		{[]string{"watch"}, "watch takes KEY..., got 0 argument(s)"},
		{[]string{"watch", "-interval", "0s", "k"}, "-interval 0s: want more than 0"},
		{[]string{"-bogus", "inspect", "k"}, "flag provided but not defined: -bogus"},
		{[]string{"-cluster", "a:1", "-sentinel", "b:1", "-master", "m", "inspect", "k"}, "-cluster and -sentinel cannot be used together"},
		{[]string{"-sentinel", "b:1", "inspect", "k"}, "-sentinel needs -master NAME"},
		{[]string{"-cluster", "a:1", "-db", "2", "inspect", "k"}, "-db is not available on a Redis Cluster"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := runCLI(tc.args...)
			assert.Equal(t, 2, r.code)
			assert.Contains(t, r.stderr, tc.want)
			assert.Empty(t, r.stdout)
		})
	}
}

func TestHelpExitsZero(t *testing.T) {
	r := runCLI("-h")
	assert.Equal(t, 0, r.code)
	for _, name := range commandOrder {
		assert.Contains(t, r.stderr, name)
	}
}

// Redis that cannot be reached is an operational error, not a usage error.
func TestUnreachableRedis(t *testing.T) {
	// Port 1, where nothing listens: a stopped server's port could be taken by another
	// test's redis-server on a busy machine, and then answer.
	const addr = "127.0.0.1:1"
	for _, args := range [][]string{{"inspect", "k"}, {"set-limit", "k", "1"}, {"forget", "k"}, {"release-expired", "k"}, {"watch", "-count", "1", "k"}} {
		r := runCLI(append([]string{"-addr", addr, "-timeout", "2s"}, args...)...)
		assert.Equal(t, 1, r.code, "%v: %s", args, r.stderr)
		assert.Contains(t, r.stderr, "andromeda: ", args)
		assert.Regexp(t, "connection refused|no answer from Redis within 2s", r.stderr, args)
	}
}

func TestInspectHoldRecords(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		require.NoError(t, tg.client.Set(ctx, "h", 0, 0).Err())
		tg.holdOn(t, "h", "open", 1, time.Hour)
		tg.holdOn(t, "h", "late", 2, 50*time.Millisecond)
		tg.holdOn(t, "h", "kept", 3, time.Hour)
		_, err := tg.holds("h", time.Hour).Commit.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "h", IdempotencyKey: "kept"})
		require.NoError(t, err)
		time.Sleep(150 * time.Millisecond)

		r := tg.cli("inspect", "-hold", "open", "-hold", "late", "-hold", "kept", "-hold", "gone", "h")
		require.Equal(t, 0, r.code, r.stderr)
		assert.Regexp(t, `(?m)^hold open\s+open, amount 1\s+ends \S+, in 1h0m\d+s; record expires in`, r.stdout)
		assert.Regexp(t, `(?m)^hold late\s+expired, amount 2\s+ended \S+ ago, not committed or cancelled; record expires in`, r.stdout)
		assert.Regexp(t, `(?m)^hold kept\s+committed, amount 3\s+ends \S+; record expires in (59m5\ds|1h0m0s)$`, r.stdout)
		assert.Regexp(t, `(?m)^hold gone\s+not found\s+never made, or closed longer ago than its retention$`, r.stdout)

		_, _, err = andromeda.ForgetUsage(ctx, tg.cache, "h")
		require.NoError(t, err)
		r = tg.cli("inspect", "-hold", "open", "h")
		require.Equal(t, 0, r.code, r.stderr)
		assert.Regexp(t, `(?m)^hold open\s+expired, amount 1\s+lost with the usage that counted it;`, r.stdout)

		r = tg.cli("inspect", "-hold", "", "h")
		assert.Equal(t, 2, r.code)
		assert.Contains(t, r.stderr, "empty hold ID")
	})
}
